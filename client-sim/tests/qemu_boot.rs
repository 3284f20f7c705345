//! Real firmware, booted by `bootsim qemu` as a user runs it: OVMF's UEFI PXE, Debian's
//! ipxe.efi and refind_x64.efi against netbootd in-process running the guide's
//! kea-dhcp4.conf unmodified, over QEMU's `-netdev dgram` (no root), to the GRUB loader on a
//! disk built from fixtures/disks/debian.toml; and a BIOS machine (SeaBIOS + QEMU's iPXE
//! ROM) on the same network, which must fail where the simulation says it fails. Both runs
//! are compared with the simulation (`--compare`).
//!
//! Each VM costs about 40 s of TCG: two tests, run one after the other.

mod real_servers;
#[path = "../../server/tests/support/mod.rs"]
mod support;

use real_servers::seed_root;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use serde_json::Value;

/// One VM at a time: two TCG guests on a shared machine would stretch each other's CPU-bound
/// steps and the timeline with them.
static VM: Mutex<()> = Mutex::new(());

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures")).join(path)
}

/// Everything a real boot needs, or a skip (a failure under CI=true).
fn tools() -> bool {
    [
        "qemu-system-x86_64",
        "grub-mkstandalone",
        "sgdisk",
        "mkfs.fat",
        "mcopy",
        "apt-get",
        "dpkg-deb",
    ]
    .iter()
    .all(|t| support::require_tool(t))
        && (Path::new("/usr/share/OVMF/OVMF_CODE.fd").is_file() || {
            support::require_tool("ovmf-is-installed-at-/usr/share/OVMF")
        })
}

fn qemu(firmware: &str) -> (i32, Value) {
    let _one = VM.lock().unwrap_or_else(|e| e.into_inner());
    let out = Command::new(env!("CARGO_BIN_EXE_bootsim"))
        .args(["qemu", "--config"])
        .arg(fixture("seed/kea-dhcp4.conf"))
        .arg("--tftp-root")
        .arg(seed_root())
        .arg("--disk")
        .arg(fixture("disks/debian.toml"))
        .args([
            "--firmware",
            firmware,
            "--compare",
            "--json",
            "--timeout",
            "240",
        ])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

/// Step names and what they name, without sizes and times (Debian's builds change size).
fn steps(t: &Value) -> String {
    let mut out = String::new();
    for s in t["steps"].as_array().into_iter().flatten() {
        let detail = s["detail"].as_str().unwrap_or_default();
        let detail: String = match detail.split_once(": ") {
            Some((head, tail)) if tail.contains(" bytes (") || tail.contains(" MiB (") => {
                let kind = tail.split_once(" (").map(|(_, k)| k).unwrap_or_default();
                format!("{head} ({kind}")
            }
            _ => detail.to_string(),
        };
        out.push_str(&format!(
            "{:<12} {detail}\n",
            s["stage"].as_str().unwrap_or_default()
        ));
    }
    out.push_str(&format!("outcome: {}\n", t["outcome"]));
    out
}

fn differences(json: &Value) -> Vec<String> {
    json["differences"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            format!(
                "{}: real {} / simulated {}",
                d["what"].as_str().unwrap_or_default(),
                d["real"],
                d["simulated"]
            )
        })
        .collect()
}

#[test]
fn real_ovmf_ipxe_and_refind_boot_the_guides_chain_to_the_loader_on_the_disk() {
    if !tools() {
        return;
    }
    let (code, json) = qemu("uefi-x64");
    let real = &json["real"];
    assert_eq!(real["outcome"]["result"], "booted", "{json:#}");
    insta::assert_snapshot!(steps(real));
    // Real and simulated take the same steps to the same loader.
    assert_eq!(steps(real), steps(&json["simulated"]));
    let diffs = differences(&json);
    assert_eq!(code, if diffs.is_empty() { 0 } else { 1 }, "{diffs:#?}");
    assert!(
        diffs.is_empty(),
        "the models differ from real firmware:\n{}",
        diffs.join("\n")
    );
}

#[test]
fn a_bios_machine_on_the_guides_network_fails_where_the_simulation_says() {
    if !tools() {
        return;
    }
    let (code, json) = qemu("bios");
    assert_eq!(code, 1, "{json:#}");
    let real = &json["real"];
    let simulated = &json["simulated"];
    assert_eq!(real["outcome"]["result"], "failed", "{json:#}");
    // iPXE (client-system 0x0000, user-class iPXE) matches no class of the guide's config:
    // a lease without a boot file, then "Nothing to boot".
    assert_eq!(
        real["outcome"]["stage"], simulated["outcome"]["stage"],
        "{json:#}"
    );
    assert_eq!(
        real["outcome"]["step"], simulated["outcome"]["step"],
        "{json:#}"
    );
    assert!(
        real["outcome"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("Nothing to boot"),
        "{json:#}"
    );
    insta::assert_snapshot!(steps(real));
    let diffs = differences(&json);
    assert!(
        diffs.is_empty(),
        "the models differ from real firmware:\n{}",
        diffs.join("\n")
    );
}
