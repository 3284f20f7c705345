//! iPXE against netbootd in-process with the guide's files: its own DHCP (user-class iPXE)
//! gets refind.pxe, the script fetches refind.conf and refind_x64.efi, and `chain refind`
//! hands over to rEFInd with refind.conf beside it on iPXE's volume. Steps 3-7 of the guide.

use bootsim::net::embedded::SIMULATION_EPOCH;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bootsim::firmware::ipxe::packets::{Build, Identity};
use bootsim::firmware::ipxe::{Ipxe, IpxeEnd};
use bootsim::identify::synthetic;
use bootsim::net::embedded::{build, ServerSpec};
use bootsim::net::lan::Lan;
use netbootd::kea::KeaVersion;
use netbootd::time::Instant;
use netbootd::wire::MacAddr;

fn seed(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/seed")).join(name)
}

fn root_with_guide_files(dir: &Path) {
    for f in ["refind.pxe", "refind.conf"] {
        std::fs::copy(seed(f), dir.join(f)).unwrap();
    }
    std::fs::write(dir.join("ipxe.efi"), synthetic::ipxe_efi(0x8664)).unwrap();
    std::fs::write(dir.join("refind_x64.efi"), synthetic::refind_efi(0x8664)).unwrap();
}

fn lan(config: &Path, root: &Path) -> Lan {
    Lan::new(
        build(&ServerSpec {
            config: config.to_path_buf(),
            kea_version: KeaVersion::V3_0,
            tftp_root: Some(root.to_path_buf()),
            server_addr: None,
            epoch: SIMULATION_EPOCH,
        })
        .unwrap(),
    )
}

fn ipxe(build: Build) -> Ipxe {
    let mut i = Ipxe::new(
        Identity {
            mac: MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]),
            build,
            uuid: None,
        },
        0x0bad_cafe,
    );
    i.start(Instant::ZERO);
    i
}

fn console(i: &Ipxe) -> String {
    i.console()
        .iter()
        .map(|c| format!("{:>6.2} {}", c.at.as_secs_f64(), c.text))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_guides_script_chains_refind_with_its_config() {
    let dir = tempfile::tempdir().unwrap();
    root_with_guide_files(dir.path());
    let mut lan = lan(&seed("kea-dhcp4.conf"), dir.path());
    let mut i = ipxe(Build::EfiX64);
    lan.run(&mut i, Duration::from_secs(300));
    let Some(IpxeEnd::ExecEfi {
        image,
        volume,
        load_options,
    }) = i.outcome()
    else {
        panic!("{:?}\n{}", i.outcome(), console(&i));
    };
    assert_eq!(image.name, "refind");
    assert_eq!(load_options, "refind");
    let names: Vec<&str> = volume.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["refind.pxe", "refind.conf", "refind"]);
    insta::assert_snapshot!(console(&i));
}

#[test]
fn bios_ipxe_on_the_guides_network_gets_nothing_to_boot() {
    let dir = tempfile::tempdir().unwrap();
    root_with_guide_files(dir.path());
    let mut lan = lan(&seed("kea-dhcp4.conf"), dir.path());
    let mut i = ipxe(Build::BiosUndi);
    lan.run(&mut i, Duration::from_secs(300));
    assert!(
        matches!(i.outcome(), Some(IpxeEnd::Returned { .. })),
        "{:?}",
        i.outcome()
    );
    // A BIOS build's error code, not the EFI one (2d03e18e): OBSERVED with QEMU's BIOS iPXE
    // ROM on the guide's network (`bootsim qemu --firmware bios`).
    assert!(console(&i)
        .contains("Nothing to boot: No such file or directory (https://ipxe.org/2d03e13b)"));
}

#[test]
fn a_class_order_that_hands_ipxe_its_own_binary_again_is_seen() {
    let dir = tempfile::tempdir().unwrap();
    root_with_guide_files(dir.path());
    let config = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/broken/class-loop.conf"
    ));
    let mut lan = lan(&config, dir.path());
    let mut i = ipxe(Build::EfiX64);
    lan.run(&mut i, Duration::from_secs(300));
    let Some(IpxeEnd::ExecEfi { image, .. }) = i.outcome() else {
        panic!("{:?}", i.outcome());
    };
    assert_eq!(image.name, "ipxe.efi");
    assert_eq!(image.uri, "tftp://192.168.1.1/ipxe.efi");
}
