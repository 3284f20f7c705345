//! `bootsim storm` on the guide's classes with a /16 pool (fixtures/storm): every machine
//! boots, each gets its own address, and the report's step table covers the nine steps.
//! (Speed is measured by ci/bench-storm.sh, not here.)

use bootsim::net::embedded::SIMULATION_EPOCH;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use bootsim::chain::{Client, Firmware};
use bootsim::identify::synthetic;
use bootsim::net::capacity::{Capacity, ServerKind};
use bootsim::net::embedded::{build, ServerSpec};
use bootsim::net::lan::{Faults, Lan, LinkFaults, Server};
use bootsim::net::link::LinkModel;
use bootsim::storm::{storm_with, Post, PowerOn, Storm, StormModel};
use netbootd::kea::KeaVersion;
use netbootd::wire::MacAddr;

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures")).join(path)
}

/// netbootd with the storm fixture's config and the guide's TFTP root (synthetic binaries,
/// ipxe.efi padded with zeros to `ipxe_len` bytes when it is shorter).
fn server_with(dir: &tempfile::TempDir, ipxe_len: usize) -> Server {
    for f in ["refind.pxe", "refind.conf"] {
        std::fs::copy(fixture(&format!("seed/{f}")), dir.path().join(f)).unwrap();
    }
    let mut ipxe = synthetic::ipxe_efi(0x8664);
    if ipxe.len() < ipxe_len {
        ipxe.resize(ipxe_len, 0);
    }
    std::fs::write(dir.path().join("ipxe.efi"), ipxe).unwrap();
    std::fs::write(
        dir.path().join("refind_x64.efi"),
        synthetic::refind_efi(0x8664),
    )
    .unwrap();
    build(&ServerSpec {
        config: fixture("storm/kea-dhcp4.conf"),
        kea_version: KeaVersion::V3_0,
        tftp_root: Some(dir.path().to_path_buf()),
        server_addr: None,
        epoch: SIMULATION_EPOCH,
    })
    .unwrap()
}

fn server(dir: &tempfile::TempDir) -> Server {
    server_with(dir, 0)
}

fn template() -> Client {
    Client {
        firmware: Firmware::UefiX64,
        mac: MacAddr([0; 6]),
        uuid: [0; 16],
        disks: vec![bootsim::recipe::load(&fixture("disks/debian.toml")).unwrap()],
        seed: 1,
    }
}

#[test]
fn three_hundred_machines_boot_with_distinct_addresses_through_loss() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(&dir);
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
    let clients = bootsim::storm::clients(&template(), 300);
    let (report, transcripts) = bootsim::storm::storm(&mut lan, &clients);
    // Seeded: every machine gets through the loss on its retransmissions (each on its own
    // Dhcp4Dxe tick, so their retries do not collide).
    assert_eq!(report.booted, 300, "{}", report.render());
    assert!(report.failures.is_empty(), "{}", report.render());
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
    assert_eq!(leased.len(), 300, "every machine its own address");
    assert!(transcripts
        .iter()
        .all(|t| t.elapsed < Duration::from_secs(600)));
}

/// A storm of `n` machines behind a 1 Gb/s server link; also the bytes of the files in the
/// TFTP root (each machine fetches every one of them once).
fn storm_behind_1gbit(n: usize, model: &StormModel) -> (Storm, u64) {
    let dir = tempfile::tempdir().unwrap();
    // A 256 KiB ipxe.efi, so the files dominate what crosses the link.
    let mut lan = Lan::new(server_with(&dir, 256 << 10));
    let files = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    let clients = bootsim::storm::clients(&template(), n);
    let storm = storm_with(&mut lan, &clients, model, &mut |_| {});
    (storm, files)
}

fn gigabit(capacity: Option<Capacity>) -> StormModel {
    StormModel {
        links: Some(LinkModel {
            client_bps: 1_000_000_000,
            server_bps: 1_000_000_000,
            ..LinkModel::default()
        }),
        capacity,
        power_on: PowerOn::AllAtOnce,
        post: Post::default(),
        seed: 1,
    }
}

#[test]
fn a_thousand_machines_take_at_least_the_time_their_files_need_on_the_server_link() {
    let model = gigabit(None);
    let (one, files) = storm_behind_1gbit(1, &model);
    assert_eq!(one.report.booted, 1, "{}", one.report.render());
    let (many, _) = storm_behind_1gbit(1000, &model);
    assert_eq!(many.report.booted, 1000, "{}", many.report.render());
    let last = |s: &Storm| s.report.booted_by.last().unwrap().seconds.unwrap();
    let carry_1000 = 1000.0 * files as f64 * 8.0 / 1e9;
    // Each machine's Dhcp4Dxe tick has its own phase: the earliest of the thousand could
    // start its downloads that much before the lone machine (its phase is the first's).
    let phase = |c: &bootsim::chain::Client| bootsim::storm::power::tick_phase(c.seed);
    let clients = bootsim::storm::clients(&template(), 1000);
    let head_start = phase(&clients[0]) - clients.iter().map(phase).min().unwrap();
    assert!(
        last(&many) - last(&one) + head_start.as_secs_f64() >= carry_1000,
        "1 machine {:.3}s, 1000 machines {:.3}s, 1000 copies of {files} bytes need {carry_1000:.3}s\n{}",
        last(&one),
        last(&many),
        many.report.render()
    );
    // The report names the link as what held them up.
    assert!(
        many.report
            .bottleneck
            .verdict
            .starts_with("the server's link, sending: saturated"),
        "{}",
        many.report.render()
    );
}

#[test]
fn a_seeded_storm_reproduces_to_the_byte() {
    let model = StormModel {
        power_on: PowerOn::Uniform(Duration::from_secs(5)),
        post: "2s..4s".parse().unwrap(),
        seed: 42,
        ..gigabit(Some(Capacity::of(ServerKind::Netbootd)))
    };
    let (a, _) = storm_behind_1gbit(200, &model);
    let (b, _) = storm_behind_1gbit(200, &model);
    assert_eq!(a.report.booted, 200, "{}", a.report.render());
    assert_eq!(a.report.reproducible_json(), b.report.reproducible_json());
    assert_eq!(a.timeline_svg(), b.timeline_svg());
    // Spread power-on: the first machine booted well before the last.
    let by = &a.report.booted_by;
    assert!(by[0].seconds < by[3].seconds, "{by:?}");
    let json: serde_json::Value = serde_json::from_str(&a.report.reproducible_json()).unwrap();
    let steps = json["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 9);
    for key in ["name", "count", "p50", "p90", "p99", "max"] {
        assert!(steps[0].get(key).is_some(), "{key} in {}", steps[0]);
    }
}
