//! `bootsim storm`: many machines at once, latency percentiles and resources.

use bootsim::net::embedded::SIMULATION_EPOCH;
use std::path::PathBuf;
use std::process::ExitCode;

use bootsim::chain::{Client, Firmware};
use bootsim::net::embedded::{build, ServerSpec};
use bootsim::net::lan::Lan;
use netbootd::kea::KeaVersion;

use super::{load_disks, parse_firmware};

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
        mac: [0; 6],
        // storm::clients numbers the clients in its last four bytes.
        uuid: bootsim::firmware::MACHINE_UUID,
        disks,
        seed: 0x5eed_0001,
    };
    let clients = bootsim::storm::clients(&template, args.clients);
    let mut lan = Lan::new(server);
    let (report, _) = bootsim::storm::storm(&mut lan, &clients);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print!("{}", report.render());
    }
    if report.booted == report.clients {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
