//! The guide's whole boot, simulated against netbootd in-process: the nine steps with the
//! guide's own files, and the ways it breaks, each with its diagnosis.

mod real_servers;
#[path = "../../server/tests/support/mod.rs"]
mod support;

use real_servers::seed_root;

use bootsim::net::embedded::SIMULATION_EPOCH;
use std::path::{Path, PathBuf};
use std::process::Command;

use bootsim::chain::{boot, Client, Firmware};
use bootsim::identify::synthetic;
use bootsim::net::embedded::{build, ServerSpec};
use bootsim::net::lan::Lan;
use bootsim::transcript::{Outcome, Transcript};
use netbootd::kea::KeaVersion;
use netbootd::wire::MacAddr;

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures")).join(path)
}

/// The guide's TFTP root with synthetic iPXE and rEFInd binaries (no download needed).
fn synthetic_root(dir: &Path) -> PathBuf {
    let root = dir.join("tftp");
    std::fs::create_dir_all(&root).unwrap();
    for f in ["refind.pxe", "refind.conf"] {
        std::fs::copy(fixture(&format!("seed/{f}")), root.join(f)).unwrap();
    }
    std::fs::write(root.join("ipxe.efi"), synthetic::ipxe_efi(0x8664)).unwrap();
    std::fs::write(root.join("refind_x64.efi"), synthetic::refind_efi(0x8664)).unwrap();
    root
}

fn run(config: &Path, root: &Path, firmware: Firmware) -> Transcript {
    let server = build(&ServerSpec {
        config: config.to_path_buf(),
        kea_version: KeaVersion::V3_0,
        tftp_root: Some(root.to_path_buf()),
        server_addr: None,
        epoch: SIMULATION_EPOCH,
    })
    .unwrap();
    let mut lan = Lan::new(server);
    let client = Client {
        firmware,
        mac: MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]),
        uuid: bootsim::firmware::MACHINE_UUID,
        disks: vec![bootsim::recipe::load(&fixture("disks/debian.toml")).unwrap()],
        seed: 0x1d2c_3b4a,
    };
    boot(&mut lan, &client)
}

#[test]
fn the_guides_boot_completes_all_nine_steps() {
    let dir = tempfile::tempdir().unwrap();
    let root = synthetic_root(dir.path());
    let t = run(&fixture("seed/kea-dhcp4.conf"), &root, Firmware::UefiX64);
    assert!(t.booted(), "{}", t.render(true));
    assert_eq!(t.steps.len(), 9);
    insta::assert_snapshot!(t.render(true));
}

#[test]
fn the_guides_boot_with_debians_real_ipxe_and_refind() {
    if !support::require_tool("apt-get") || !support::require_tool("dpkg-deb") {
        return;
    }
    let root = seed_root();
    let t = run(&fixture("seed/kea-dhcp4.conf"), &root, Firmware::UefiX64);
    assert!(t.booted(), "{}", t.render(true));
    let details: Vec<String> = t.steps.iter().map(|s| s.detail()).collect();
    assert!(details[1].contains("(x86_64 EFI, iPXE)"), "{details:?}");
    assert!(details[5].contains("(x86_64 EFI, rEFInd)"), "{details:?}");
    assert_eq!(
        t.outcome,
        Outcome::Booted {
            loader: "EFI\\debian\\grubx64.efi".into(),
            disk: 0,
            disk_name: "sda".into(),
            volume: "ESP".into()
        }
    );
}

fn failure(t: &Transcript) -> (String, String, Option<String>) {
    match &t.outcome {
        Outcome::Failed {
            stage,
            reason,
            change,
            ..
        } => (stage.to_string(), reason.clone(), change.clone()),
        other => panic!("booted: {other:?}"),
    }
}

#[test]
fn a_missing_refind_binary_stops_the_script() {
    let dir = tempfile::tempdir().unwrap();
    let root = synthetic_root(dir.path());
    std::fs::remove_file(root.join("refind_x64.efi")).unwrap();
    let t = run(&fixture("seed/kea-dhcp4.conf"), &root, Firmware::UefiX64);
    let (stage, reason, _) = failure(&t);
    assert_eq!(stage, "iPXE");
    assert!(reason.contains("refind.pxe ended with status"), "{reason}");
    let console = t.render(true);
    assert!(console.contains("tftp://192.168.1.1/refind_x64.efi... No such file or directory (https://ipxe.org/2d12618e)"), "{console}");
    assert!(console.contains("Could not boot image:"), "{console}");
}

#[test]
fn a_class_that_also_matches_ipxe_is_named_as_a_loop() {
    let dir = tempfile::tempdir().unwrap();
    let root = synthetic_root(dir.path());
    let t = run(&fixture("broken/class-loop.conf"), &root, Firmware::UefiX64);
    let (stage, reason, change) = failure(&t);
    assert_eq!(stage, "iPXE DHCP");
    assert!(reason.starts_with("chainload loop"), "{reason}");
    let change = change.unwrap();
    // The class's `{` is on line 33 of the fixture.
    assert!(
        change.contains("class 'PXE UEFI' at class-loop.conf:33 also matches iPXE"),
        "{change}"
    );
}

#[test]
fn arm64_and_bios_clients_get_no_boot_file_on_the_guides_network() {
    let dir = tempfile::tempdir().unwrap();
    let root = synthetic_root(dir.path());
    for (fw, error) in [
        (Firmware::UefiArm64, "PXE-E16: No valid offer received."),
        (Firmware::Bios, "PXE-E53: No boot filename received."),
    ] {
        let t = run(&fixture("seed/kea-dhcp4.conf"), &root, fw);
        let (stage, reason, change) = failure(&t);
        assert_eq!(stage, "PXE DHCP", "{}", t.render(true));
        assert_eq!(reason, error);
        assert!(change.unwrap().contains("has no boot file"));
    }
}

#[test]
fn the_cli_exit_codes_say_booted_failed_or_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let root = synthetic_root(dir.path());
    let bootsim = env!("CARGO_BIN_EXE_bootsim");
    let status = |args: &[&str]| {
        Command::new(bootsim)
            .arg("boot")
            .args(args)
            .output()
            .unwrap()
    };
    let disk = fixture("disks/debian.toml");
    let config = fixture("seed/kea-dhcp4.conf");
    let common = [
        "--tftp-root",
        root.to_str().unwrap(),
        "--disk",
        disk.to_str().unwrap(),
    ];
    let ok = status(&[&["--config", config.to_str().unwrap()][..], &common[..]].concat());
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let json = status(
        &[
            &["--json", "--config", config.to_str().unwrap()][..],
            &common[..],
        ]
        .concat(),
    );
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["outcome"]["result"], "booted");
    assert_eq!(v["steps"].as_array().unwrap().len(), 9);
    let arm = status(
        &[
            &[
                "--firmware",
                "uefi-arm64",
                "--config",
                config.to_str().unwrap(),
            ][..],
            &common[..],
        ]
        .concat(),
    );
    assert_eq!(arm.status.code(), Some(1));
    // Kea 2.2 refuses the guide's `output-options`: bad input, with Kea's own words.
    let bad = status(
        &[
            &["--kea-version", "2.2", "--config", config.to_str().unwrap()][..],
            &common[..],
        ]
        .concat(),
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr)
        .contains("62.9-24: got unexpected keyword \"output-options\" in loggers map"));
    let pcap = dir.path().join("boot.pcap");
    let with_pcap = status(
        &[
            &[
                "--pcap",
                pcap.to_str().unwrap(),
                "--config",
                config.to_str().unwrap(),
            ][..],
            &common[..],
        ]
        .concat(),
    );
    assert_eq!(with_pcap.status.code(), Some(0));
    let frames = netbootd::wire::pcap::read_capture(std::fs::File::open(&pcap).unwrap()).unwrap();
    assert!(frames.len() > 20, "{} frames", frames.len());
}
