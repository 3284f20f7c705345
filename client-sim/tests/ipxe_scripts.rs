//! The script interpreter on real public iPXE scripts (fixtures/ipxe, sources in
//! fixtures/ipxe/SOURCES.md), each served by netbootd in-process as the boot file iPXE gets:
//! what iPXE prints and where the script stops.

use bootsim::net::embedded::SIMULATION_EPOCH;
use std::path::PathBuf;
use std::time::Duration;

use bootsim::firmware::ipxe::packets::{Build, Identity};
use bootsim::firmware::ipxe::{Ipxe, IpxeEnd};
use bootsim::net::embedded::{build, ServerSpec};
use bootsim::net::lan::Lan;
use netbootd::kea::KeaVersion;

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures")).join(path)
}

/// Runs `script` as the file the guide's "iPXE script" class hands out.
fn run(script: &str) -> (Ipxe, String) {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("seed/kea-dhcp4.conf"))
        .unwrap()
        .replace("refind.pxe", script);
    let config = dir.path().join("kea-dhcp4.conf");
    std::fs::write(&config, text).unwrap();
    std::fs::copy(fixture(&format!("ipxe/{script}")), dir.path().join(script)).unwrap();
    let mut lan = Lan::new(
        build(&ServerSpec {
            config,
            kea_version: KeaVersion::V3_0,
            tftp_root: Some(dir.path().to_path_buf()),
            server_addr: None,
            epoch: SIMULATION_EPOCH,
        })
        .unwrap(),
    );
    let mut ipxe = Ipxe::new(
        Identity {
            mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
            build: Build::EfiX64,
            uuid: None,
        },
        42,
    );
    ipxe.start(Duration::ZERO);
    lan.run(&mut ipxe, Duration::from_secs(600));
    let console = ipxe
        .console()
        .iter()
        .map(|c| format!("{:>6.2} {}", c.at.as_secs_f64(), c.text))
        .collect::<Vec<_>>()
        .join("\n");
    (ipxe, console)
}

#[test]
fn netboot_xyz_netinfo_builds_its_menu_and_waits_at_choose() {
    let (ipxe, console) = run("netinfo.ipxe");
    assert_eq!(
        ipxe.outcome(),
        Some(&IpxeEnd::WaitingForInput {
            command: "choose".into()
        }),
        "{console}"
    );
    // `isset ${proxydhcp} || iseq ... && echo Yes || echo No ...`: no ProxyDHCP, and both
    // sides of iseq expand to nothing, so "Yes".
    assert!(console.ends_with(" Yes"), "{console}");
    insta::assert_snapshot!(console);
}

#[test]
fn netboot_xyz_loader_gets_dhcp_then_fails_to_chain_over_http() {
    let (ipxe, console) = run("netbootxyz-dhcp.ipxe");
    let Some(IpxeEnd::Returned { rc, .. }) = ipxe.outcome() else {
        panic!("{:?}\n{console}", ipxe.outcome());
    };
    assert_ne!(*rc, 0);
    assert!(
        console.contains("boot.netboot.xyz iPXE loader v2.0.84"),
        "{console}"
    );
    assert!(
        console.contains("http://boot.netboot.xyz/menu.ipxe... Operation not supported"),
        "{console}"
    );
    insta::assert_snapshot!(console);
}
