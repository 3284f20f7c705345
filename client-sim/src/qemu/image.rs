//! A disk recipe (fixtures/disks/*.toml) made real for a VM: a GPT image with one FAT
//! partition per volume (sgdisk, mkfs.fat, mmd/mcopy: the tools an installer uses), whose
//! x86_64 loaders are real EFI programs. Each `pe:x64:<tag>` loader is GRUB built by
//! `grub-mkstandalone` with an embedded grub.cfg that prints `bootsim-loader: <tag>` on the
//! serial console and halts, so the end of the chain is observed, not assumed (with
//! `-no-reboot`, the halt ends QEMU). The same content spec gives the same bytes, as in the
//! recipe's synthetic disk (rEFInd skips a fallback loader identical to another one).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::recipe;

use super::QemuError;

/// What a loader prints on the serial console when it starts.
pub const MARKER: &str = "bootsim-loader: ";

const MIB: u64 = 1 << 20;

fn tool(program: &str, args: &[&str]) -> Result<(), QemuError> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| QemuError::Tool {
            tool: program.into(),
            message: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(QemuError::Tool {
            tool: program.into(),
            message: format!("{args:?}: {}", String::from_utf8_lossy(&out.stderr).trim()),
        });
    }
    Ok(())
}

/// A GRUB EFI program that prints the marker with `tag` and halts.
fn loader(work: &Path, tag: &str) -> Result<Vec<u8>, QemuError> {
    let safe: String = tag
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    let cfg = work.join(format!("grub-{safe}.cfg"));
    let out = work.join(format!("loader-{safe}.efi"));
    std::fs::write(&cfg, format!("echo \"{MARKER}{safe}\"\nhalt\n")).map_err(|e| {
        QemuError::Tool {
            tool: "grub-mkstandalone".into(),
            message: e.to_string(),
        }
    })?;
    tool(
        "grub-mkstandalone",
        &[
            "-O",
            "x86_64-efi",
            "-o",
            &out.to_string_lossy(),
            "--modules=normal echo halt",
            "--install-modules=normal echo halt",
            "--locales=",
            "--fonts=",
            "--themes=",
            &format!("boot/grub/grub.cfg={}", cfg.display()),
        ],
    )?;
    std::fs::read(&out).map_err(|e| QemuError::Tool {
        tool: "grub-mkstandalone".into(),
        message: e.to_string(),
    })
}

/// The bytes of one file of the recipe: x86_64 loaders become GRUB, everything else is what
/// the recipe says (synthetic images of other architectures, text, files).
fn content(
    spec: &str,
    base: &Path,
    work: &Path,
    loaders: &mut HashMap<String, Vec<u8>>,
) -> Result<Vec<u8>, String> {
    if let Some(tag) = spec
        .strip_prefix("pe:x64:")
        .or((spec == "pe:x64").then_some(""))
    {
        let tag = if tag.is_empty() { "loader" } else { tag };
        if let Some(b) = loaders.get(tag) {
            return Ok(b.clone());
        }
        let bytes = loader(work, tag).map_err(|e| e.to_string())?;
        loaders.insert(tag.to_string(), bytes.clone());
        return Ok(bytes);
    }
    recipe::content(spec, base)
}

/// Builds `recipe_path` into `<work>/<name>.img` and returns the image's path.
pub fn build(recipe_path: &Path, work: &Path) -> Result<PathBuf, QemuError> {
    let shown = recipe_path.display().to_string();
    let recipe = recipe::parse(recipe_path).map_err(|e| QemuError::Input(e.to_string()))?;
    let base = recipe_path.parent().unwrap_or(Path::new("."));
    let safe: String = recipe
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let image = work.join(format!("{safe}.img"));
    let mut loaders = HashMap::new();
    // Each volume: files first (their size decides the partition's).
    let mut parts = Vec::new();
    for (i, v) in recipe.volume.iter().enumerate() {
        let mut files = Vec::new();
        for f in &v.files {
            let bytes = content(&f.content, base, work, &mut loaders)
                .map_err(|m| QemuError::Input(format!("{shown}: {}: {m}", f.path)))?;
            files.push((crate::disk::normalize(&f.path), bytes));
        }
        let used: u64 = files.iter().map(|(_, b)| b.len() as u64).sum();
        // FAT16 needs at least ~16 MiB of clusters at mkfs.fat's defaults; leave room.
        let size = (32 * MIB).max((used * 2 + 16 * MIB).div_ceil(MIB) * MIB);
        parts.push((i, v, files, size));
    }
    let total: u64 = 2 * MIB + parts.iter().map(|p| p.3).sum::<u64>();
    let create = |p: &Path, len: u64| -> Result<(), QemuError> {
        std::fs::File::create(p)
            .and_then(|f| f.set_len(len))
            .map_err(|e| QemuError::Input(format!("{}: {e}", p.display())))
    };
    create(&image, total)?;
    let image_s = image.to_string_lossy().into_owned();
    let mut start = MIB;
    for (i, v, files, size) in &parts {
        let n = i + 1;
        let kind = if v.esp { "ef00" } else { "0700" };
        tool(
            "sgdisk",
            &[
                "-n",
                &format!("{n}:{}:+{}M", start / 512, size / MIB),
                "-t",
                &format!("{n}:{kind}"),
                "-c",
                &format!("{n}:{}", v.label),
                &image_s,
            ],
        )?;
        let fs = work.join(format!("{safe}-part{n}.img"));
        let fs_s = fs.to_string_lossy().into_owned();
        create(&fs, *size)?;
        let label: String = v
            .label
            .to_uppercase()
            .chars()
            .filter(|c| c.is_ascii_graphic() || *c == ' ')
            .take(11)
            .collect();
        let fat = if *size > 512 * MIB { "32" } else { "16" };
        tool("mkfs.fat", &["-F", fat, "-n", &label, &fs_s])?;
        let mut dirs: Vec<String> = Vec::new();
        for (path, bytes) in files {
            let parts: Vec<&str> = path.split('\\').collect();
            for depth in 1..parts.len() {
                let dir = parts[..depth].join("/");
                if !dirs.iter().any(|d| d.eq_ignore_ascii_case(&dir)) {
                    tool("mmd", &["-i", &fs_s, &format!("::/{dir}")])?;
                    dirs.push(dir);
                }
            }
            let src = work.join("file.tmp");
            std::fs::write(&src, bytes)
                .map_err(|e| QemuError::Input(format!("{}: {e}", src.display())))?;
            tool(
                "mcopy",
                &[
                    "-o",
                    "-i",
                    &fs_s,
                    &src.to_string_lossy(),
                    &format!("::/{}", parts.join("/")),
                ],
            )?;
        }
        tool(
            "dd",
            &[
                &format!("if={fs_s}"),
                &format!("of={image_s}"),
                "bs=1M",
                &format!("seek={}", start / MIB),
                "conv=notrunc",
                "status=none",
            ],
        )?;
        let _ = std::fs::remove_file(&fs);
        start += size;
    }
    Ok(image)
}
