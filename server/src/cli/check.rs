//! `netbootd check` (to be written).
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The kea-dhcp4.conf to check.
    pub file: std::path::PathBuf,
}

pub fn run(_args: CheckArgs) -> ExitCode {
    ExitCode::from(2)
}
