//! What `bootsim validate` found, as data (serialized for `--json`), as text for a terminal
//! and (in `crate::junit`) JUnit XML for CI: the matrix rows, each class's verdict per firmware, the problems.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use serde::Serialize;

use super::explain::ClassReport;
use super::release::Release;

/// One firmware of the matrix: what the server offers it and where its chain leads.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The firmware's name (`uefi-x64`, ...).
    pub firmware: String,
    /// The operator's classes its DISCOVER matched, in Kea's order.
    pub classes: Vec<String>,
    /// The boot file the offer names.
    pub file: Option<String>,
    /// The offer's next-server (siaddr).
    pub next_server: Option<Ipv4Addr>,
    /// "booted ...", "failed at ...", or "not run" without a TFTP root.
    pub chain: String,
    /// Whether the chain reached a loader (`None`: not run).
    pub chain_ok: Option<bool>,
    /// Where each item of the first menu of the chain's iPXE script leads (one boot per
    /// item); empty when the chain shows no menu.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub menu: Vec<MenuItemOutcome>,
}

/// One menu item and what choosing it came to.
#[derive(Debug, Clone, Serialize)]
pub struct MenuItemOutcome {
    /// The item's label.
    pub item: String,
    /// "booted ..." or "fails at step ...".
    pub outcome: String,
}

/// How bad a problem is: an error fails `validate` (exit 1, a failed JUnit case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A firmware will not boot, or the config says something Kea reads otherwise.
    Error,
    /// Probably not what was meant, but nothing breaks.
    Warning,
}

/// One thing `validate` found, naming the class or key and its line.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub severity: Severity,
    /// The firmware it is about (`None`: the config as a whole).
    pub firmware: Option<String>,
    pub message: String,
}

/// What `validate` found: the matrix, each class's verdicts, the problems.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The config file validated.
    pub config: String,
    /// The Kea release the config was validated as.
    pub kea_version: String,
    /// Which releases' grammars accept the config, and why the others refuse it.
    pub releases: Vec<Release>,
    /// One row per firmware of the matrix.
    pub rows: Vec<Row>,
    /// Every class, its test's verdict per firmware and why.
    pub classes: Vec<ClassReport>,
    /// Errors and warnings, each naming its firmware when it is about one.
    pub problems: Vec<Problem>,
}

impl Report {
    /// How many errors (warnings not counted).
    pub fn errors(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count()
    }

    /// The report as `bootsim validate` prints it.
    pub fn render(&self) -> String {
        let mut out = format!("{}\n", self.config);
        if !self.releases.is_empty() {
            let _ = writeln!(
                out,
                "{}",
                releases_line(&self.releases, Some(&self.kea_version))
            );
        }
        let _ = writeln!(
            out,
            "{:<11} {:<28} {:<24} {:<13} chain",
            "firmware", "classes", "file", "next-server"
        );
        for r in &self.rows {
            let classes = if r.classes.is_empty() {
                "-".to_string()
            } else {
                r.classes.join(", ")
            };
            let _ = writeln!(
                out,
                "{:<11} {:<28} {:<24} {:<13} {}",
                r.firmware,
                classes,
                r.file.as_deref().unwrap_or("-"),
                r.next_server.map_or("-".to_string(), |a| a.to_string()),
                r.chain
            );
            for m in &r.menu {
                let _ = writeln!(out, "  menu item {:<16} {}", m.item, m.outcome);
            }
        }
        render_classes(&self.classes, &mut out);
        if self.problems.is_empty() {
            out.push_str("no problems found\n");
        }
        for p in &self.problems {
            let who = p
                .firmware
                .as_ref()
                .map(|f| format!("{f}: "))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{}: {who}{}",
                match p.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                },
                p.message
            );
        }
        out
    }
}

/// Each class with its test and when Kea evaluates it, then the firmware grouped by verdict
/// and reason, so twelve identical lines read as one.
fn render_classes(classes: &[ClassReport], out: &mut String) {
    if classes.is_empty() {
        return;
    }
    out.push_str("classes (each test on each firmware's DISCOVER, in Kea's order):\n");
    for c in classes {
        let _ = writeln!(
            out,
            "  '{}' at {}: {}",
            c.class,
            c.at,
            c.test.as_deref().unwrap_or("(no test)")
        );
        let _ = writeln!(out, "    evaluated {}", c.when);
        for n in &c.notes {
            let _ = writeln!(out, "    note: {n}");
        }
        let mut groups: Vec<(&str, &[String], Vec<&str>)> = Vec::new();
        for v in &c.verdicts {
            match groups
                .iter_mut()
                .find(|(r, why, _)| *r == v.result && *why == v.reasons.as_slice())
            {
                Some(g) => g.2.push(&v.firmware),
                None => groups.push((&v.result, &v.reasons, vec![&v.firmware])),
            }
        }
        for (result, reasons, firmware) in groups {
            let _ = write!(out, "    {result:<5} {}", firmware.join(", "));
            // Why a test holds is in --json; the text says why one does not.
            let reasons = if result == "true" { &[] } else { reasons };
            match reasons {
                [] => out.push('\n'),
                [one] => {
                    let _ = writeln!(out, ": {one}");
                }
                many => {
                    out.push_str(":\n");
                    for r in many {
                        let _ = writeln!(out, "          - {r}");
                    }
                }
            }
        }
    }
}

/// "Kea releases: 2.2 refuses (line 62: ...); 2.6 accepts; ...; validated as Kea 3.0".
pub(super) fn releases_line(releases: &[Release], used: Option<&str>) -> String {
    let parts: Vec<String> = releases
        .iter()
        .map(|r| match &r.refusal {
            None => format!("{} accepts", r.version),
            Some(why) => format!("{} refuses ({why})", r.version),
        })
        .collect();
    match used {
        Some(used) => format!(
            "Kea releases: {}; validated as Kea {used}",
            parts.join("; ")
        ),
        None => format!("Kea releases: {}", parts.join("; ")),
    }
}
