//! `netbootd check`: `kea-dhcp4 -t` for CI. Diagnostics go to stderr worded as Kea words them
//! (so a log grep written for Kea still works), a summary of a valid config to stdout, and
//! `--json` gives one machine-readable report instead.

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;

use netbootd::kea::check::{check_file, Outcome};
use netbootd::kea::diag::Diagnostic;
use netbootd::kea::system::LocalSystem;
use netbootd::kea::{summary, KeaVersion};

#[derive(clap::Args)]
pub struct CheckArgs {
    /// Check with the keywords and expression tokens of this Kea release.
    #[arg(long, default_value_t = KeaVersion::default())]
    pub kea_version: KeaVersion,
    /// Print one JSON report on stdout instead of Kea-style lines.
    #[arg(long)]
    pub json: bool,
    /// The kea-dhcp4.conf to check.
    pub file: PathBuf,
}

/// Exit codes: 0 valid, 1 invalid, 2 unreadable (the same split `kea-dhcp4 -t` makes between
/// a refused config and a missing file).
pub fn run(args: CheckArgs) -> ExitCode {
    let outcome = match check_file(&args.file, args.kea_version, &LocalSystem) {
        Ok(outcome) => outcome,
        Err(e) => {
            if args.json {
                let report = serde_json::json!({
                    "file": args.file.display().to_string(),
                    "kea_version": args.kea_version.to_string(),
                    "readable": false,
                    "error": e.to_string(),
                });
                out(&format!("{report:#}\n"));
            } else {
                eprintln!("{e}");
            }
            return ExitCode::from(2);
        }
    };
    if args.json {
        print_json(&args, &outcome);
    } else {
        print_text(&outcome);
    }
    ExitCode::from(if outcome.is_valid() { 0 } else { 1 })
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn out(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

pub use netbootd::kea::diag::kea_line;

fn print_text(outcome: &Outcome) {
    for w in &outcome.warnings {
        eprintln!("{}", kea_line(w));
    }
    if let Some(e) = &outcome.error {
        eprintln!("{}", kea_line(e));
    }
    if let Some(config) = &outcome.config {
        out(&summary::render(config));
    }
}

#[derive(Serialize)]
struct Report<'a> {
    file: String,
    kea_version: String,
    readable: bool,
    valid: bool,
    warnings: Vec<Item<'a>>,
    error: Option<Item<'a>>,
    files: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct Item<'a> {
    #[serde(flatten)]
    diagnostic: &'a Diagnostic,
    /// The line exactly as printed without --json.
    text: String,
}

fn item(d: &Diagnostic) -> Item<'_> {
    Item {
        diagnostic: d,
        text: kea_line(d),
    }
}

fn print_json(args: &CheckArgs, outcome: &Outcome) {
    let report = Report {
        file: args.file.display().to_string(),
        kea_version: args.kea_version.to_string(),
        readable: true,
        valid: outcome.is_valid(),
        warnings: outcome.warnings.iter().map(item).collect(),
        error: outcome.error.as_ref().map(item),
        files: outcome.files.iter().map(|f| &**f).collect(),
        summary: outcome.config.as_ref().map(summary::json),
    };
    match serde_json::to_string_pretty(&report) {
        Ok(text) => out(&format!("{text}\n")),
        Err(e) => eprintln!("cannot encode the report: {e}"),
    }
}
