//! `bootsim replay`: a capture of a simulated boot (`bootsim run --pcap`) replayed against
//! the config it was made with answers the same, field for field, DHCP and TFTP; against a
//! config with the classes swapped, the differing field is named with the class and line
//! that decided it; bad input exits 2.

use std::path::{Path, PathBuf};
use std::process::Command;

use bootsim::identify::synthetic;

fn bootsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bootsim"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The guide's boot simulated, its capture, and a TFTP root with the same files as the
/// scenario serves (the guide's script and config, synthetic x64 iPXE and rEFInd).
fn seed_capture() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let (code, out, err) = bootsim(&[
        "run",
        "scenarios/seed.toml",
        "--pcap",
        tmp.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let root = tmp.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/seed");
    for f in ["refind.pxe", "refind.conf"] {
        std::fs::copy(seed.join(f), root.join(f)).unwrap();
    }
    std::fs::write(root.join("ipxe.efi"), synthetic::ipxe_efi(0x8664)).unwrap();
    std::fs::write(root.join("refind_x64.efi"), synthetic::refind_efi(0x8664)).unwrap();
    let pcap = tmp.path().join("seed.pcap");
    (tmp, pcap, root)
}

#[test]
fn the_same_config_answers_the_same_dhcp_and_tftp() {
    let (_tmp, pcap, root) = seed_capture();
    let (code, out, err) = bootsim(&[
        "replay",
        pcap.to_str().unwrap(),
        "--config",
        "fixtures/seed/kea-dhcp4.conf",
        "--tftp-root",
        root.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["differences"], 0);
    let exchanges = json["clients"][0]["exchanges"].as_array().unwrap();
    let queries: Vec<&str> = exchanges
        .iter()
        .map(|e| e["query"].as_str().unwrap())
        .collect();
    // Both DHCP rounds and all five transfers (the probe included) were replayed.
    assert_eq!(
        queries.iter().filter(|q| q.starts_with("RRQ")).count(),
        5,
        "{queries:?}"
    );
    assert_eq!(
        queries.iter().filter(|q| q.starts_with("REQUEST")).count(),
        2,
        "{queries:?}"
    );
    assert!(exchanges.iter().all(|e| e["differences"] == 0));
}

#[test]
fn swapped_classes_name_the_field_and_the_class_line() {
    let (_tmp, pcap, _root) = seed_capture();
    let (code, out, err) = bootsim(&[
        "replay",
        pcap.to_str().unwrap(),
        "--config",
        "fixtures/broken/class-loop.conf",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("! file           \"refind.pxe\" -> \"ipxe.efi\"  (class 'PXE UEFI' at class-loop.conf:33)"),
        "{out}"
    );
    // The firmware's own round is answered as before.
    let first = out
        .lines()
        .find(|l| l.contains("packet    1 DISCOVER"))
        .unwrap();
    assert!(first.trim_start().starts_with('='), "{first}");
    assert!(out.contains("note: no --tftp-root"), "{out}");
}

#[test]
fn a_missing_file_in_the_new_root_is_a_tftp_difference() {
    let (_tmp, pcap, root) = seed_capture();
    std::fs::remove_file(root.join("refind_x64.efi")).unwrap();
    let (code, out, _) = bootsim(&[
        "replay",
        pcap.to_str().unwrap(),
        "--config",
        "fixtures/seed/kea-dhcp4.conf",
        "--tftp-root",
        root.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("! tftp.found     found -> ERROR 1"), "{out}");
}

#[test]
fn bad_input_exits_2_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let junk = tmp.path().join("junk.pcap");
    std::fs::write(&junk, b"definitely not a capture file").unwrap();
    let (code, _, err) = bootsim(&[
        "replay",
        junk.to_str().unwrap(),
        "--config",
        "fixtures/seed/kea-dhcp4.conf",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("junk.pcap"), "{err}");
    let (_tmp2, pcap, _) = seed_capture();
    let (code, _, err) = bootsim(&[
        "replay",
        pcap.to_str().unwrap(),
        "--config",
        "/nonexistent/kea.conf",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/kea.conf"), "{err}");
}

#[test]
fn a_moved_pool_rewrites_the_requested_address_and_names_the_pool_line() {
    let (tmp, pcap, _root) = seed_capture();
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/seed/kea-dhcp4.conf");
    let text = std::fs::read_to_string(seed).unwrap();
    let moved = text.replace("192.168.1.2 - 192.168.1.14", "192.168.1.5 - 192.168.1.14");
    assert_ne!(moved, text);
    let config = tmp.path().join("moved.conf");
    std::fs::write(&config, moved).unwrap();
    let line = text.lines().position(|l| l.contains("\"pool\"")).unwrap() + 1;
    let (code, out, err) = bootsim(&[
        "replay",
        pcap.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(&format!(
            "! yiaddr         192.168.1.2 -> 192.168.1.5  (pool 192.168.1.5-192.168.1.14 of subnet 192.168.1.0/28 at moved.conf:{line})"
        )),
        "{out}"
    );
    // The REQUEST asks for the address the new OFFER gave, and says so.
    assert!(
        out.contains("rewrote option 50 192.168.1.2 -> 192.168.1.5"),
        "{out}"
    );
    // With the address rewritten, the ACK differs only in yiaddr.
    let ack = out
        .split("REQUEST xid")
        .nth(1)
        .unwrap()
        .split("  ! packet")
        .next()
        .unwrap();
    let fields: Vec<&str> = ack.lines().filter(|l| l.starts_with("      !")).collect();
    assert_eq!(fields.len(), 1, "{ack}");
}
