//! `bootsim run`: scenario files and their expectations.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{write_pcap, write_report};

#[derive(clap::Args)]
pub struct RunArgs {
    /// Scenario files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print every scenario's transcripts.
    #[arg(long)]
    verbose: bool,
    /// Print the runs as JSON.
    #[arg(long)]
    json: bool,
    /// Write JUnit XML here.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Write one pcap per scenario into this directory.
    #[arg(long)]
    pcap: Option<PathBuf>,
}

pub fn run_scenarios(args: RunArgs) -> ExitCode {
    let mut runs = Vec::new();
    for file in &args.files {
        let run = bootsim::scenario::Scenario::load(file).and_then(|s| s.run());
        match run {
            Ok(r) => runs.push(r),
            Err(e) => {
                eprintln!("bootsim: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if let Some(dir) = &args.pcap {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("bootsim: {}: {e}", dir.display());
            return ExitCode::from(2);
        }
        for r in &runs {
            let stem = Path::new(&r.file)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "scenario".into());
            if let Err(e) = write_pcap(&dir.join(format!("{stem}.pcap")), &r.frames) {
                eprintln!("bootsim: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if let Some(path) = &args.junit {
        if let Err(code) = write_report(path, &bootsim::junit::scenarios(&runs)) {
            return code;
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&runs).unwrap_or_default()
        );
    } else {
        for r in &runs {
            if args.verbose {
                println!("{}", r.render(false));
            }
            let booted = r.transcripts.iter().filter(|t| t.booted()).count();
            println!(
                "{}  {:<28} {:<44} {}/{} booted",
                if r.passed() { "PASS" } else { "FAIL" },
                Path::new(&r.file)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                r.name,
                booted,
                r.transcripts.len()
            );
            for c in r.checks.iter().filter(|c| !c.ok) {
                println!("      {}: {}", c.what, c.detail);
            }
        }
    }
    if runs.iter().all(|r| r.passed()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
