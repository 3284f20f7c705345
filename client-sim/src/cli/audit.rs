//! `bootsim audit`: field captures explained client by client.

use std::path::PathBuf;
use std::process::ExitCode;

use netbootd::wire::MacAddr;

use super::write_report;

#[derive(clap::Args)]
pub struct AuditArgs {
    /// Capture files (pcap or pcapng).
    #[arg(required = true)]
    captures: Vec<PathBuf>,
    /// Print the audits as JSON.
    #[arg(long)]
    json: bool,
    /// Write JUnit XML here: one test case per client.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Only this client.
    #[arg(long)]
    client: Option<MacAddr>,
}

pub fn run_audit(args: AuditArgs) -> ExitCode {
    let mut audits = Vec::new();
    let mut unreadable = false;
    for path in &args.captures {
        match bootsim::capture::audit_file(path, args.client) {
            Ok(a) => audits.push(a),
            Err(e) => {
                eprintln!("bootsim: {e}");
                unreadable = true;
            }
        }
    }
    if let Some(path) = &args.junit {
        if let Err(code) = write_report(path, &bootsim::junit::audit(&audits)) {
            return code;
        }
    }
    if args.json {
        let clients: Vec<_> = audits.iter().flat_map(|a| a.clients.iter()).collect();
        let doc = serde_json::json!({ "captures": audits, "clients": clients });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        for (i, a) in audits.iter().enumerate() {
            if i > 0 {
                println!();
            }
            print!("{}", bootsim::capture::report::render(a));
        }
    }
    if unreadable {
        ExitCode::from(2)
    } else if audits.iter().any(|a| a.failed()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
