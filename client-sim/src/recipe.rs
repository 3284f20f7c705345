//! Disk recipes: a disk declared in TOML (fixtures/disks/*.toml) instead of an image, so a
//! scenario says in a few lines what is on each ESP.

use std::path::Path;

use serde::Deserialize;

use crate::disk::{Disk, Volume};
use crate::identify::synthetic;

/// A recipe as written (`bootsim qemu` builds a real disk image from it).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    pub name: String,
    #[serde(default = "yes")]
    pub internal: bool,
    #[serde(default)]
    pub volume: Vec<VolumeRecipe>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeRecipe {
    pub label: String,
    #[serde(default = "yes")]
    pub esp: bool,
    #[serde(default)]
    pub files: Vec<FileRecipe>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRecipe {
    pub path: String,
    pub content: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RecipeError {
    #[error("{path}: {message}")]
    Bad { path: String, message: String },
}

fn machine(arch: &str) -> Result<u16, String> {
    Ok(match arch {
        "x64" => 0x8664,
        "ia32" => 0x014c,
        "aa64" => 0xaa64,
        other => return Err(format!("unknown architecture '{other}' (x64, ia32, aa64)")),
    })
}

/// What a content spec stands for: `pe:<arch>:<tag>` (an EFI application), `ipxe:<arch>`,
/// `refind:<arch>` (synthetic builds of those), `text:<...>`, `file:<path>`.
pub fn content(spec: &str, base: &Path) -> Result<Vec<u8>, String> {
    if let Some(rest) = spec.strip_prefix("pe:") {
        let (arch, tag) = rest.split_once(':').unwrap_or((rest, ""));
        return Ok(synthetic::loader(machine(arch)?, tag));
    }
    // Synthetic iPXE and rEFInd builds: "ipxe:x64", "refind:aa64".
    for (prefix, make) in [
        ("ipxe:", synthetic::ipxe_efi as fn(u16) -> Vec<u8>),
        ("refind:", synthetic::refind_efi),
    ] {
        if let Some(arch) = spec.strip_prefix(prefix) {
            return Ok(make(machine(arch)?));
        }
    }
    if let Some(text) = spec.strip_prefix("text:") {
        return Ok(text.as_bytes().to_vec());
    }
    if let Some(file) = spec.strip_prefix("file:") {
        let p = base.join(file);
        return std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()));
    }
    Err(format!(
        "content '{spec}' is not pe:<arch>:<tag>, text:<...> or file:<path>"
    ))
}

/// Reads a recipe file as written.
pub fn parse(path: &Path) -> Result<Recipe, RecipeError> {
    let bad = |message: String| RecipeError::Bad {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    // toml's errors carry "line N, column M" and the offending text.
    toml::from_str(&text).map_err(|e| bad(e.to_string()))
}

/// Reads a recipe file into a disk.
pub fn load(path: &Path) -> Result<Disk, RecipeError> {
    let shown = path.display().to_string();
    let bad = |message: String| RecipeError::Bad {
        path: shown.clone(),
        message,
    };
    let recipe = parse(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut volumes = Vec::new();
    for v in recipe.volume {
        let mut volume = Volume::new(&v.label);
        volume.esp = v.esp;
        for f in v.files {
            let bytes = content(&f.content, base).map_err(|m| bad(format!("{}: {m}", f.path)))?;
            volume = volume.with_file(&f.path, bytes);
        }
        volumes.push(volume);
    }
    Ok(Disk {
        name: recipe.name,
        internal: recipe.internal,
        volumes,
    })
}
