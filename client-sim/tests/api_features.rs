//! The public API's optional parts, as a user's repository calls them: `audit` (feature
//! `audit`) on captures of simulated boots, and `Network::boot_in_qemu` (feature `qemu`) on
//! real OVMF, iPXE and rEFInd. Run by ci/test.sh with `--features qemu,audit`.

#![cfg(all(feature = "qemu", feature = "audit"))]

#[path = "../../server/tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use bootsim::prelude::*;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// Captures of two simulated scenarios (`bootsim run --pcap`): one that boots, one that
/// loops.
fn captures(dir: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_bootsim"))
        .current_dir(repo(""))
        .args(["run", "--pcap"])
        .arg(dir)
        .args(["scenarios/seed.toml", "scenarios/class-loop.toml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn audit_reads_a_capture_into_chains_and_asserts_on_them() {
    let dir = tempfile::tempdir().unwrap();
    captures(dir.path());
    let seed = audit(dir.path().join("seed.pcap")).unwrap();
    assert_eq!(seed.clients.len(), 1);
    seed.assert_no_failures();
    let looped = audit(dir.path().join("class-loop.pcap")).unwrap();
    let panic = std::panic::catch_unwind(|| {
        looped.assert_no_failures();
    })
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("52:54:00:12:34:56"), "{message}");
    assert!(audit(dir.path().join("missing.pcap")).is_err());
}

#[test]
fn a_machine_the_vm_cannot_be_is_refused_before_qemu_starts() {
    let err = Network::kea(repo("fixtures/seed/kea-dhcp4.conf"))
        .boot_in_qemu(&Machine::new(Firmware::UefiArm64))
        .unwrap_err();
    assert!(err.to_string().contains("uefi-arm64"), "{err}");
}

/// The guide's chain on real firmware through the API: Debian's ipxe.efi and
/// refind_x64.efi (ci/seed-root.sh), OVMF, the recipe's disk, to GRUB.
#[test]
fn the_guides_machine_boots_grub_in_qemu_through_the_api() {
    let tools = [
        "qemu-system-x86_64",
        "grub-mkstandalone",
        "sgdisk",
        "mkfs.fat",
        "mcopy",
    ];
    if !tools.iter().all(|t| support::require_tool(t)) {
        return;
    }
    let out = Command::new("bash")
        .arg(repo("ci/seed-root.sh"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    Network::kea(repo("fixtures/seed/kea-dhcp4.conf"))
        .tftp_root(root)
        .boot_in_qemu(&Machine::new(Firmware::UefiX64).disk(repo("fixtures/disks/debian.toml")))
        .unwrap()
        .assert_booted(r"EFI\debian\grubx64.efi")
        .assert_fetched(&["ipxe.efi", "refind.pxe", "refind_x64.efi"])
        .assert_class("PXE UEFI");
}
