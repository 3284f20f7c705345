//! A real GPT disk image, built with Debian's own tools (sgdisk, mkfs.fat, mcopy: the tools
//! an installer uses), read by bootsim's disk reader and scanned by rEFInd: the loader is
//! found by its path on the ESP and the boot names it.

#[path = "../../server/tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;

use bootsim::disk::Disk;
use bootsim::firmware::refind::{self, RefindEnd};
use bootsim::identify::{synthetic, Machine};

fn sh(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A 40 MiB disk: partition 1 an ESP (FAT16, label "EFI SYSTEM"), partition 2 Linux data.
fn make_image(dir: &Path) -> std::path::PathBuf {
    let image = dir.join("disk.img");
    let esp = dir.join("esp.img");
    std::fs::File::create(&image)
        .unwrap()
        .set_len(40 << 20)
        .unwrap();
    sh(
        "sgdisk",
        &[
            "-n",
            "1:2048:+32M",
            "-t",
            "1:ef00",
            "-c",
            "1:EFI System",
            "-n",
            "2:0:0",
            "-t",
            "2:8300",
            image.to_str().unwrap(),
        ],
    );
    std::fs::File::create(&esp)
        .unwrap()
        .set_len(32 << 20)
        .unwrap();
    sh(
        "mkfs.fat",
        &["-F", "16", "-n", "EFI SYSTEM", esp.to_str().unwrap()],
    );
    let grub = dir.join("grubx64.efi");
    std::fs::write(&grub, synthetic::loader(0x8664, "grub")).unwrap();
    let shim = dir.join("shimx64.efi");
    std::fs::write(&shim, synthetic::loader(0x8664, "shim")).unwrap();
    let e = esp.to_str().unwrap();
    sh("mmd", &["-i", e, "::/EFI", "::/EFI/debian", "::/EFI/BOOT"]);
    sh(
        "mcopy",
        &["-i", e, shim.to_str().unwrap(), "::/EFI/debian/shimx64.efi"],
    );
    sh(
        "mcopy",
        &["-i", e, grub.to_str().unwrap(), "::/EFI/debian/grubx64.efi"],
    );
    sh(
        "mcopy",
        &["-i", e, shim.to_str().unwrap(), "::/EFI/BOOT/BOOTX64.EFI"],
    );
    // Place the ESP at sector 2048 of the disk.
    sh(
        "dd",
        &[
            &format!("if={e}"),
            &format!("of={}", image.display()),
            "bs=512",
            "seek=2048",
            "conv=notrunc",
            "status=none",
        ],
    );
    image
}

#[test]
fn refind_boots_grub_from_a_real_gpt_image() {
    for tool in ["sgdisk", "mkfs.fat", "mcopy", "mmd"] {
        if !support::require_tool(tool) {
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let disk = Disk::from_image(&make_image(dir.path()), true).unwrap();
    assert_eq!(disk.volumes.len(), 1, "the Linux partition has no FAT");
    let esp = &disk.volumes[0];
    assert!(esp.esp);
    assert_eq!(esp.label, "EFI SYSTEM");
    assert!(esp.get("EFI\\debian\\grubx64.efi").is_some());
    let run = refind::run(
        Some(b"timeout 1\nscanfor internal\n"),
        &[disk],
        Machine::X64,
    );
    let RefindEnd::Booted { entry } = run.end else {
        panic!("{:?}", run.end)
    };
    assert_eq!(entry.path, "EFI\\debian\\grubx64.efi");
    assert_eq!(entry.title, "Boot EFI\\debian\\grubx64.efi from EFI SYSTEM");
}

#[test]
fn a_file_that_is_not_a_disk_image_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("notadisk.img");
    std::fs::write(&bogus, vec![0u8; 4096]).unwrap();
    let err = Disk::from_image(&bogus, true).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}: no GPT partition table", bogus.display())),
        "{err}"
    );
}
