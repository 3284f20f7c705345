//! A real Kea 2.2 capture, made here: Debian's kea-dhcp4 running the guide's config and
//! tftpd-hpa serving the guide's TFTP root in one network namespace, bootsim's UEFI client
//! on an AF_PACKET socket in another, every frame on the client's interface written with
//! `--pcap`. `audit` tells that capture's chain; `replay` against the same config finds no
//! difference between Kea's DHCP answers and netbootd's (and one in TFTP: windowsize,
//! which tftpd-hpa does not grant), and against the config with the classes swapped names
//! the field and the class line.

mod real_servers;
#[path = "../../server/tests/support/mod.rs"]
mod support;

use std::process::Command;

use real_servers::{fixture, kea_and_tftpd_available, kea_config, GuideNetwork};

fn bootsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bootsim"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_real_kea_capture_is_audited_and_replays_with_only_the_windowsize_difference() {
    if !kea_and_tftpd_available() {
        return;
    }
    let net = GuideNetwork::start("nbr");
    let (client, dir, config, root) = (&net.client, &net.dir, &net.config, &net.root);
    let pcap = dir.path().join("kea.pcap");
    let run = client
        .command(env!("CARGO_BIN_EXE_bootsim"))
        .args(["boot", "--iface", "nbr1", "--disk"])
        .arg(fixture("disks/debian.toml"))
        .arg("--pcap")
        .arg(&pcap)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{text}");

    // audit: the four files in order, EDK2 then iPXE, handed off to rEFInd.
    let (code, out, err) = bootsim(&["audit", "--json", pcap.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = &json["clients"][0];
    let files: Vec<String> = c["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            let stage = s["stage"].as_str().unwrap();
            stage.starts_with("TFTP") || stage == "iPXE fetch"
        })
        .map(|s| {
            s["detail"]
                .as_str()
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .trim_start_matches('/')
                .to_string()
        })
        .collect();
    assert_eq!(
        files,
        ["ipxe.efi", "refind.pxe", "refind.conf", "refind_x64.efi"],
        "{out}"
    );
    let classes: Vec<&str> = c["rounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["class"].as_str().unwrap())
        .collect();
    assert_eq!(classes, ["edk2-uefi", "ipxe"], "{out}");
    assert_eq!(c["outcome"], "handed-off", "{out}");

    // replay against the same config: Kea's answers and netbootd's agree, DHCP and TFTP.
    let (code, out, err) = bootsim(&[
        "replay",
        pcap.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--tftp-root",
        root.to_str().unwrap(),
        "--kea-version",
        "2.2",
    ]);
    eprintln!("{out}");
    // Every DHCP answer is the same, field for field, and so is every file. The one
    // difference is real: tftpd-hpa 5.2 ignores RFC 7440 windowsize, which EDK2 asks for,
    // while netbootd grants it (serve --max-windowsize, default 64).
    let differing: Vec<&str> = out.lines().filter(|l| l.starts_with("  !")).collect();
    assert_eq!(differing.len(), 2, "{out}{err}");
    assert!(
        differing.iter().all(|l| l.contains("RRQ ipxe.efi")),
        "{out}"
    );
    let fields: Vec<&str> = out.lines().filter(|l| l.starts_with("      !")).collect();
    assert!(
        fields
            .iter()
            .all(|l| l.contains("tftp.options") && l.ends_with("windowsize=4")),
        "{out}"
    );
    assert!(out.ends_with("2 difference(s)\n"), "{out}");
    assert_eq!(code, 1, "{out}{err}");

    // replay against the same network with the classes swapped.
    let swapped = kea_config(
        "broken/class-loop.conf",
        dir.path(),
        "nbr0",
        "class-loop.conf",
    );
    let (code, out, err) = bootsim(&[
        "replay",
        pcap.to_str().unwrap(),
        "--config",
        swapped.to_str().unwrap(),
        "--kea-version",
        "2.2",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("\"refind.pxe\" -> \"ipxe.efi\"  (class 'PXE UEFI' at class-loop.conf:33)"),
        "{out}"
    );
}
