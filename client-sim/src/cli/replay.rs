//! `bootsim replay`: a capture's client side sent to netbootd in-process, answers diffed.

use std::path::PathBuf;
use std::process::ExitCode;

use netbootd::kea::KeaVersion;

use super::print_report;

#[derive(clap::Args)]
pub struct ReplayArgs {
    /// The capture (pcap or pcapng).
    capture: PathBuf,
    /// The kea-dhcp4.conf netbootd runs.
    #[arg(long)]
    config: PathBuf,
    /// The TFTP root netbootd serves; without it, transfers are not replayed.
    #[arg(long)]
    tftp_root: Option<PathBuf>,
    #[arg(long, default_value_t = KeaVersion::default())]
    kea_version: KeaVersion,
    /// The captured server netbootd stands in for (default: the one at netbootd's address,
    /// else the first that offered a boot file).
    #[arg(long)]
    replace: Option<std::net::Ipv4Addr>,
    #[arg(long)]
    json: bool,
}

pub fn run_replay(args: ReplayArgs) -> ExitCode {
    let req = bootsim::capture::replay::Request {
        capture: args.capture,
        config: args.config,
        tftp_root: args.tftp_root,
        kea_version: args.kea_version,
        replace: args.replace,
    };
    let replay = match bootsim::capture::replay::replay(&req) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bootsim: {e}");
            return ExitCode::from(2);
        }
    };
    print_report(args.json, &replay, || replay.render());
    if replay.differences == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
