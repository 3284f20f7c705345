//! `bootsim storm` on the guide's classes with a /16 pool (fixtures/storm): every machine
//! boots, each gets its own address, and the report's step table covers the nine steps.
//! (Speed is measured by ci/bench-storm.sh, not here.)

use bootsim::net::embedded::SIMULATION_EPOCH;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use bootsim::chain::{Client, Firmware};
use bootsim::identify::synthetic;
use bootsim::net::embedded::{build, ServerSpec};
use bootsim::net::lan::{Faults, Lan, LinkFaults};
use netbootd::kea::KeaVersion;

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures")).join(path)
}

#[test]
fn three_hundred_machines_boot_with_distinct_addresses_through_loss() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["refind.pxe", "refind.conf"] {
        std::fs::copy(fixture(&format!("seed/{f}")), dir.path().join(f)).unwrap();
    }
    std::fs::write(dir.path().join("ipxe.efi"), synthetic::ipxe_efi(0x8664)).unwrap();
    std::fs::write(
        dir.path().join("refind_x64.efi"),
        synthetic::refind_efi(0x8664),
    )
    .unwrap();
    let server = build(&ServerSpec {
        config: fixture("storm/kea-dhcp4.conf"),
        kea_version: KeaVersion::V3_0,
        tftp_root: Some(dir.path().to_path_buf()),
        server_addr: None,
        epoch: SIMULATION_EPOCH,
    })
    .unwrap();
    let loss = LinkFaults {
        loss: 0.05,
        ..LinkFaults::default()
    };
    let mut lan = Lan::with_faults(
        server,
        Faults {
            seed: 5,
            to_server: loss.clone(),
            to_client: loss,
            tftp_delay_ms: 0,
        },
    );
    let template = Client {
        firmware: Firmware::UefiX64,
        mac: [0; 6],
        uuid: [0; 16],
        disks: vec![bootsim::recipe::load(&fixture("disks/debian.toml")).unwrap()],
        seed: 1,
    };
    let clients = bootsim::storm::clients(&template, 300);
    let (report, transcripts) = bootsim::storm::storm(&mut lan, &clients);
    // Seeded: one machine loses every DISCOVER/OFFER round of its DHCP window and its
    // firmware gives up, as EDK2 would (PXE-E18); the rest boot.
    assert_eq!(report.booted, 299, "{}", report.render());
    assert_eq!(
        report.failures.iter().collect::<Vec<_>>(),
        [(
            &"PXE DHCP: PXE-E18: Server response timeout.".to_string(),
            &1
        )]
    );
    assert_eq!(report.steps.len(), 9);
    assert!(lan.fault_counts.lost > 0);
    // The slowest machine took longer than the fastest: loss costs retransmissions.
    let boot = report.steps.last().unwrap();
    assert!(boot.max > boot.p50, "{}", report.render());
    let leased: HashSet<String> = transcripts
        .iter()
        .filter(|t| t.booted())
        .map(|t| t.steps[0].detail().split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(leased.len(), 299, "every machine its own address");
    assert!(transcripts
        .iter()
        .all(|t| t.elapsed < Duration::from_secs(600)));
}
