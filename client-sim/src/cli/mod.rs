//! bootsim's subcommands, one module each: its arguments (clap) and the function that runs
//! it; the helpers more than one of them uses are here.

use std::path::Path;
use std::process::ExitCode;

use bootsim::chain::Firmware;
use bootsim::disk::Disk;
use bootsim::net::lan::Frame;
use netbootd::wire::pcap::CaptureWriter;

pub mod audit;
pub mod boot;
pub mod qemu;
pub mod replay;
pub mod run;
pub mod storm;
pub mod validate;

pub fn parse_firmware(s: &str) -> Result<Firmware, String> {
    Firmware::parse(s).ok_or_else(|| {
        format!("{s}: expected uefi-x64, uefi-ia32, uefi-arm64, bios, ipxe-efi or ipxe-bios")
    })
}

pub fn load_disk(path: &Path) -> Result<Disk, String> {
    if path.extension().is_some_and(|e| e == "toml") {
        bootsim::recipe::load(path).map_err(|e| e.to_string())
    } else {
        Disk::from_image(path, true).map_err(|e| e.to_string())
    }
}

/// Every `--disk`, or the first that cannot be read, said as bootsim's exit-2 message.
pub fn load_disks(paths: &[std::path::PathBuf]) -> Result<Vec<Disk>, String> {
    paths.iter().map(|d| load_disk(d)).collect()
}

pub fn write_pcap(path: &Path, frames: &[Frame]) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| e.to_string())?;
    let mut writer = CaptureWriter::new(file).map_err(|e| e.to_string())?;
    for f in frames {
        writer
            .write(f.at.since_origin(), &f.datagram.to_frame())
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Writes a report the user asked for (`--junit`, `--timeline`); a failure is bad input:
/// said on stderr with the path, exit 2.
pub fn write_report(path: &Path, text: &str) -> Result<(), ExitCode> {
    std::fs::write(path, text).map_err(|e| {
        eprintln!("bootsim: {}: {e}", path.display());
        ExitCode::from(2)
    })
}

/// Prints a subcommand's report: pretty JSON with `--json`, else the text `render` gives.
pub fn print_report<T: serde::Serialize>(json: bool, report: &T, render: impl FnOnce() -> String) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
    } else {
        print!("{}", render());
    }
}
