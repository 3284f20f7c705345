//! `bootsim validate`: a Kea config checked against the firmware matrix.

use std::path::PathBuf;
use std::process::ExitCode;

use netbootd::kea::KeaVersion;

use super::{print_report, write_report};

#[derive(clap::Args)]
pub struct ValidateArgs {
    /// The kea-dhcp4.conf to validate.
    config: PathBuf,
    /// The TFTP root it serves: then every chain is booted, not only the offers compared.
    #[arg(long)]
    tftp_root: Option<PathBuf>,
    /// The Kea release to validate against; by default the newest one whose grammar accepts
    /// the file.
    #[arg(long)]
    kea_version: Option<KeaVersion>,
    /// Warn when the pools hold fewer addresses than this many machines.
    #[arg(long, default_value_t = 50)]
    storm: u64,
    #[arg(long)]
    json: bool,
    /// Write JUnit XML here.
    #[arg(long)]
    junit: Option<PathBuf>,
}

pub fn run_validate(args: ValidateArgs) -> ExitCode {
    let req = bootsim::validate::Request {
        config: args.config.clone(),
        kea_version: args.kea_version,
        tftp_root: args.tftp_root.clone(),
        storm: args.storm,
    };
    let report = match bootsim::validate::validate(&req) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bootsim: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = &args.junit {
        if let Err(code) = write_report(path, &bootsim::junit::validate(&report)) {
            return code;
        }
    }
    print_report(args.json, &report, || report.render());
    if report.errors() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
