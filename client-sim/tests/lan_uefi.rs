//! EDK2's UEFI PXE against netbootd in-process (the guide's Kea config and a TFTP root), on
//! the virtual clock: the first two steps of the guide's boot.

use bootsim::net::embedded::SIMULATION_EPOCH;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use bootsim::firmware::uefi_pxe::packets::{Arch, Identity, Undi};
use bootsim::firmware::uefi_pxe::{PxeError, UefiPxe};
use bootsim::net::embedded::{build, ServerSpec};
use bootsim::net::lan::Lan;
use netbootd::kea::KeaVersion;
use netbootd::time::Instant;
use netbootd::wire::MacAddr;

fn seed(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/seed")).join(name)
}

fn lan(root: &std::path::Path) -> Lan {
    let server = build(&ServerSpec {
        config: seed("kea-dhcp4.conf"),
        kea_version: KeaVersion::V3_0,
        tftp_root: Some(root.to_path_buf()),
        server_addr: None,
        epoch: SIMULATION_EPOCH,
    })
    .unwrap();
    Lan::new(server)
}

fn client(arch: Arch) -> UefiPxe {
    let id = Identity {
        mac: MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]),
        arch,
        undi: Undi::default(),
        uuid: bootsim::firmware::MACHINE_UUID,
    };
    let mut pxe = UefiPxe::new(id, 0x1234_5678, Duration::from_millis(300));
    pxe.start(Instant::ZERO);
    pxe
}

#[test]
fn uefi_x64_gets_ipxe_efi_from_the_embedded_server() {
    let dir = tempfile::tempdir().unwrap();
    let nbp: Vec<u8> = (0..850_528u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(dir.path().join("ipxe.efi"), &nbp).unwrap();
    let mut lan = lan(dir.path());
    let mut pxe = client(Arch::X64);
    lan.run(&mut pxe, Duration::from_secs(120));
    let got = pxe.outcome().unwrap().as_ref().unwrap();
    assert_eq!(got.name, "ipxe.efi");
    assert_eq!(got.server, Ipv4Addr::new(192, 168, 1, 1));
    assert_eq!(got.station, Ipv4Addr::new(192, 168, 1, 2));
    assert!(got.bytes == nbp.into());
    let console: Vec<String> = pxe.console().iter().map(|l| l.text.clone()).collect();
    insta::assert_snapshot!(console.join("\n"));
}

#[test]
fn a_bios_class_miss_or_missing_file_fails_as_edk2_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut lan = lan(dir.path());
    // No ipxe.efi in the root: the server answers ERROR 1 to the size probe.
    let mut pxe = client(Arch::X64);
    lan.run(&mut pxe, Duration::from_secs(120));
    assert_eq!(
        pxe.outcome(),
        Some(&Err(PxeError::E23("error 1: File not found".into())))
    );
    // AArch64 matches no class in the guide's config: an offer without a boot file.
    let mut lan = self::lan(dir.path());
    let mut arm = client(Arch::Aarch64);
    lan.run(&mut arm, Duration::from_secs(120));
    assert_eq!(arm.outcome(), Some(&Err(PxeError::E16)));
}
