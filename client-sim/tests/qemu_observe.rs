//! The reading `bootsim qemu` applies to a real VM (frames on the segment plus console lines
//! into `bootsim boot`'s steps), applied to a simulated boot: it must find the steps the
//! simulation itself reported, so that a real run and a simulated one are read alike. Runs
//! everywhere (no QEMU needed).

use std::path::{Path, PathBuf};

use bootsim::chain::{boot, Client, Firmware};
use bootsim::identify::synthetic;
use bootsim::net::embedded::{build, ServerSpec};
use bootsim::net::lan::Lan;
use bootsim::qemu::compare::{compare, guest_clock};
use bootsim::qemu::observe::{transcript, Wire};
use bootsim::transcript::Transcript;
use netbootd::kea::KeaVersion;
use netbootd::time::Instant;
use netbootd::wire::MacAddr;

const MAC: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures")).join(path)
}

fn root(dir: &Path) -> PathBuf {
    for f in ["refind.pxe", "refind.conf"] {
        std::fs::copy(fixture(&format!("seed/{f}")), dir.join(f)).unwrap();
    }
    std::fs::write(dir.join("ipxe.efi"), synthetic::ipxe_efi(0x8664)).unwrap();
    std::fs::write(dir.join("refind_x64.efi"), synthetic::refind_efi(0x8664)).unwrap();
    dir.to_path_buf()
}

fn simulated(firmware: Firmware) -> (Transcript, Lan, Vec<bootsim::disk::Disk>) {
    let dir = tempfile::tempdir().unwrap();
    let server = build(&ServerSpec {
        config: fixture("seed/kea-dhcp4.conf"),
        kea_version: KeaVersion::V3_0,
        tftp_root: Some(root(dir.path())),
        server_addr: None,
        epoch: bootsim::net::embedded::SIMULATION_EPOCH,
    })
    .unwrap();
    let mut lan = Lan::new(server);
    let disks = vec![bootsim::recipe::load(&fixture("disks/debian.toml")).unwrap()];
    let client = Client {
        firmware,
        mac: MAC,
        uuid: [0x11; 16],
        disks: disks.clone(),
        seed: 0x1d2c_3b4a,
    };
    (boot(&mut lan, &client), lan, disks)
}

fn lines(t: &Transcript) -> Vec<String> {
    t.steps
        .iter()
        .map(|s| format!("{} {:.2} {}", s.stage(), s.at.as_secs_f64(), s.detail()))
        .collect()
}

#[test]
fn the_guides_simulated_boot_read_from_its_frames_gives_its_own_steps() {
    let (sim, lan, disks) = simulated(Firmware::UefiX64);
    assert!(sim.booted(), "{}", sim.render(true));
    let wire = Wire::read(&lan.frames, MAC, &lan.notes);
    // The simulation's rEFInd prints its loader as "Starting grubx64.efi"; a real loader
    // then prints the marker, which the model has no loader to print: add it.
    let mut console = sim.console.clone();
    let last = console.last().map(|c| c.0).unwrap_or_default();
    console.push((last, "loader".into(), "bootsim-loader: grub".into()));
    let seen = transcript("uefi-x64", MAC, &wire, &console, &disks, sim.elapsed, true);
    assert_eq!(seen.outcome, sim.outcome);
    // Stage, time and detail: the same, except where the model stamps a stage at its start
    // and the wire sees it at its first frame (iPXE's DHCP after its 2-s banner).
    let (a, b) = (lines(&seen), lines(&sim));
    assert_eq!(a.len(), b.len(), "{a:#?}\n{b:#?}");
    for (x, y) in seen.steps.iter().zip(&sim.steps) {
        assert_eq!((x.stage(), x.detail()), (y.stage(), y.detail()));
        if x.stage() != bootsim::transcript::Stage::IpxeDhcp {
            assert_eq!(x.at, y.at, "{}", x.stage());
        }
    }
    assert_eq!(wire.rounds.len(), 2);
    assert_eq!(wire.rounds[1].client, "iPXE");
    assert_eq!(wire.rounds[1].boot_file().as_deref(), Some("refind.pxe"));
    // EDK2's size probe is aborted, its download complete; iPXE's three fetches complete.
    let done: Vec<&str> = wire.downloads().map(|t| t.file.as_str()).collect();
    assert_eq!(
        done,
        ["ipxe.efi", "refind.pxe", "refind.conf", "refind_x64.efi"]
    );
    assert!(wire.transfers[0].aborted && !wire.transfers[0].complete);
}

#[test]
fn a_run_compared_with_itself_has_no_differences_and_a_unit_clock() {
    let (sim, lan, disks) = simulated(Firmware::UefiX64);
    let wire = Wire::read(&lan.frames, MAC, &lan.notes);
    let mut console = sim.console.clone();
    console.push((
        Instant::ZERO + sim.elapsed,
        "loader".into(),
        "bootsim-loader: grub".into(),
    ));
    let seen = transcript("uefi-x64", MAC, &wire, &console, &disks, sim.elapsed, true);
    let run = bootsim::qemu::QemuRun {
        transcript: seen,
        wire: wire.clone(),
        frames: lan.frames.clone(),
        ignored: Default::default(),
        arp_answered: 0,
        disks,
        images: Vec::new(),
        stopped: "the loader started".into(),
        server_visible: true,
        qemu_stderr: String::new(),
    };
    let c = compare(&run, sim, &wire);
    assert!(c.differences.is_empty(), "{:#?}", c.differences);
    assert_eq!(guest_clock(&c.gaps), 1.0);
}

#[test]
fn the_bios_machine_read_from_its_frames_fails_where_the_model_says() {
    let (sim, lan, disks) = simulated(Firmware::IpxeBios);
    let wire = Wire::read(&lan.frames, MAC, &lan.notes);
    let seen = transcript("bios", MAC, &wire, &sim.console, &disks, sim.elapsed, true);
    let stage = |t: &Transcript| match &t.outcome {
        bootsim::transcript::Outcome::Failed { stage, step, .. } => (*stage, *step),
        other => panic!("{other:?}"),
    };
    assert_eq!(stage(&seen), stage(&sim));
    assert_eq!(stage(&seen), (bootsim::transcript::Stage::Ipxe, 2));
}

fn bootsim(args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bootsim"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_input_to_bootsim_qemu_is_exit_2_naming_the_place() {
    // All refused before any VM starts: no QEMU needed.
    let (code, err) = bootsim(&[
        "qemu",
        "--config",
        "/nonexistent/kea.conf",
        "--tftp-root",
        "/tmp",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("/nonexistent/kea.conf"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("bad.toml");
    std::fs::write(&recipe, "name = \"sda\"\n[[volume]]\nlabel = 3\n").unwrap();
    let config = fixture("seed/kea-dhcp4.conf");
    let (code, err) = bootsim(&[
        "qemu",
        "--config",
        config.to_str().unwrap(),
        "--tftp-root",
        "/tmp",
        "--disk",
        recipe.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("bad.toml") && err.contains("line 3"), "{err}");
    let (code, err) = bootsim(&["qemu", "--iface", "nbq-no-such-bridge"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("nbq-no-such-bridge: not a Linux bridge"),
        "{err}"
    );
}
