//! `bootsim storm`: many machines at once, latency percentiles and resources.

use bootsim::net::embedded::SIMULATION_EPOCH;
use std::path::PathBuf;
use std::process::ExitCode;

use bootsim::chain::{Client, Firmware};
use bootsim::net::embedded::{build, ServerSpec};
use bootsim::net::iface::Iface;
use bootsim::net::lan::Lan;
use netbootd::kea::KeaVersion;

use super::{load_disks, parse_firmware, print_report, write_report};

#[derive(clap::Args)]
pub struct StormArgs {
    /// How many machines.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// The kea-dhcp4.conf (its pools must hold the clients: fixtures/storm has a /16).
    #[arg(long)]
    config: PathBuf,
    /// The TFTP root; without it, the guide's refind.pxe and refind.conf with small
    /// synthetic ipxe.efi and refind_x64.efi.
    #[arg(long)]
    tftp_root: Option<PathBuf>,
    #[arg(long, default_value = "uefi-x64", value_parser = parse_firmware)]
    firmware: Firmware,
    #[arg(long)]
    disk: Vec<PathBuf>,
    #[arg(long, default_value_t = KeaVersion::default())]
    kea_version: KeaVersion,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    model: StormModelArgs,
    /// Write an SVG timeline of how many machines are in each stage over time.
    #[arg(long, value_name = "FILE.svg")]
    timeline: Option<PathBuf>,
    /// Boot the machines in real time on this interface against a real server (distinct
    /// MACs, ARP answered for each); --config still names the server's config for reference.
    #[arg(long)]
    iface: Option<String>,
}

/// The storm's world: links, server capacity, power-on (see bootsim::storm).
#[derive(clap::Args)]
struct StormModelArgs {
    /// Each machine's port rate (100mbit, 1gbit, ...).
    #[arg(long, default_value = "1gbit", value_parser = bootsim::net::link::parse_rate)]
    client_link: u64,
    /// The server's port rate.
    #[arg(long, default_value = "10gbit", value_parser = bootsim::net::link::parse_rate)]
    server_link: u64,
    /// One-way latency of each hop, host to switch.
    #[arg(long, default_value = "10us", value_parser = bootsim::net::link::parse_duration)]
    link_latency: std::time::Duration,
    /// Bytes each egress port of the switch can queue before it drops (tail drop).
    #[arg(long, default_value = "512KiB", value_parser = bootsim::net::link::parse_size)]
    switch_buffer: u64,
    /// The server's costs and limits: netbootd or kea-tftpd-hpa (Kea 2.2 with tftpd-hpa).
    #[arg(long, default_value = "netbootd")]
    server_model: bootsim::net::capacity::ServerKind,
    /// all-at-once, or uniform:WINDOW (uniform:30s).
    #[arg(long, default_value = "all-at-once")]
    power_on: bootsim::storm::PowerOn,
    /// Firmware POST before the first DISCOVER: 3.5s, or a range 20s..60s drawn per machine.
    #[arg(long, default_value = "3.5s")]
    post: bootsim::storm::Post,
    /// Seeds the power-on schedule.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// No link, server or power-on model: every machine at once on an infinitely fast
    /// segment.
    #[arg(long)]
    instant: bool,
}

impl StormModelArgs {
    fn model(&self) -> bootsim::storm::StormModel {
        use bootsim::net::capacity::Capacity;
        use bootsim::net::link::LinkModel;
        if self.instant {
            return bootsim::storm::StormModel::instant();
        }
        bootsim::storm::StormModel {
            links: Some(LinkModel {
                client_bps: self.client_link,
                server_bps: self.server_link,
                latency: self.link_latency,
                switch_buffer: self.switch_buffer,
            }),
            capacity: Some(Capacity::of(self.server_model)),
            power_on: self.power_on,
            post: self.post,
            seed: self.seed,
        }
    }
}

/// The guide's TFTP root with synthetic binaries, in a temporary directory.
fn synthetic_root() -> std::io::Result<tempfile::TempDir> {
    use bootsim::identify::synthetic;
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("refind.pxe"),
        include_str!("../../../fixtures/seed/refind.pxe"),
    )?;
    std::fs::write(
        dir.path().join("refind.conf"),
        include_str!("../../../fixtures/seed/refind.conf"),
    )?;
    std::fs::write(dir.path().join("ipxe.efi"), synthetic::ipxe_efi(0x8664))?;
    std::fs::write(
        dir.path().join("refind_x64.efi"),
        synthetic::refind_efi(0x8664),
    )?;
    Ok(dir)
}

pub fn run_storm(args: StormArgs) -> ExitCode {
    let synthetic = match &args.tftp_root {
        Some(_) => None,
        None => match synthetic_root() {
            Ok(d) => Some(d),
            Err(e) => {
                eprintln!("bootsim: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let root = args
        .tftp_root
        .clone()
        .unwrap_or_else(|| synthetic.as_ref().expect("made above").path().to_path_buf());
    let server = match build(&ServerSpec {
        config: args.config.clone(),
        kea_version: args.kea_version,
        tftp_root: Some(root),
        server_addr: None,
        epoch: SIMULATION_EPOCH,
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bootsim: {e}");
            return ExitCode::from(2);
        }
    };
    let disks = match load_disks(&args.disk) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("bootsim: {e}");
            return ExitCode::from(2);
        }
    };
    let template = Client {
        firmware: args.firmware,
        mac: netbootd::wire::MacAddr([0; 6]),
        // storm::clients numbers the clients in its last four bytes.
        uuid: bootsim::firmware::MACHINE_UUID,
        disks,
        seed: 0x5eed_0001,
    };
    let clients = bootsim::storm::clients(&template, args.clients);
    let model = args.model.model();
    if let Some(name) = &args.iface {
        let mut iface = match Iface::open(name) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("bootsim: {name}: {e}");
                return ExitCode::from(2);
            }
        };
        let storm = bootsim::storm::storm_real(&mut iface, &clients, &model);
        return storm_output(&args, &storm);
    }
    let mut server = server;
    if model.capacity.as_ref().is_some_and(|c| !c.windowsize) {
        bootsim::storm::refuse_windowsize(&mut server);
    }
    let mut lan = Lan::new(server);
    let mut bar = bootsim::storm::progress::Bar::new(args.clients);
    let storm = bootsim::storm::storm_with(&mut lan, &clients, &model, &mut |p| bar.show(p));
    bar.finish();
    let code = storm_output(&args, &storm);
    // The process ends here: freeing ten thousand transcripts, clients and the segment's
    // leases and notes one allocation at a time took a few percent of a storm's run; the
    // kernel takes the memory back at once.
    std::mem::forget((storm, lan, clients));
    code
}

/// Writes a storm's timeline and prints its report; exit 1 unless every machine booted.
fn storm_output(args: &StormArgs, storm: &bootsim::storm::Storm) -> ExitCode {
    let report = &storm.report;
    if let Some(path) = &args.timeline {
        if let Err(code) = write_report(path, &storm.timeline_svg()) {
            return code;
        }
    }
    print_report(args.json, &report, || report.render());
    if report.booted == report.clients {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
