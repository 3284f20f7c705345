//! What a boot did, for people (text) and machines (JSON): numbered steps with their
//! virtual times, the console of each stage, the outcome, and when it failed, why and what
//! to change.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub number: usize,
    pub stage: String,
    #[serde(serialize_with = "seconds")]
    pub at: Duration,
    pub detail: String,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    Booted {
        loader: String,
        disk: usize,
        disk_name: String,
        volume: String,
    },
    Failed {
        step: usize,
        stage: String,
        reason: String,
        change: Option<String>,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Transcript {
    pub firmware: String,
    pub mac: String,
    pub steps: Vec<Step>,
    pub outcome: Outcome,
    /// (time, source, line).
    #[serde(skip)]
    pub console: Vec<(Duration, String, String)>,
    /// Things the boot path reads differently from what was probably meant.
    pub lints: Vec<String>,
    /// Frames the client sent again (a lost answer, a timer that fired).
    pub retransmissions: u32,
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
}

impl Transcript {
    pub fn new(firmware: &str, mac: [u8; 6]) -> Transcript {
        Transcript {
            firmware: firmware.into(),
            mac: mac
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":"),
            steps: Vec::new(),
            outcome: Outcome::Failed {
                step: 1,
                stage: "start".into(),
                reason: "not run".into(),
                change: None,
            },
            console: Vec::new(),
            lints: Vec::new(),
            retransmissions: 0,
            elapsed: Duration::ZERO,
        }
    }

    pub fn booted(&self) -> bool {
        matches!(self.outcome, Outcome::Booted { .. })
    }

    /// The text transcript; with `console`, every console line of every stage too.
    pub fn render(&self, console: bool) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{} {}", self.firmware, self.mac);
        for s in &self.steps {
            let _ = writeln!(
                out,
                "{:>2}. {:>7.2}s  {:<12} {}",
                s.number,
                s.at.as_secs_f64(),
                s.stage,
                s.detail
            );
        }
        match &self.outcome {
            Outcome::Booted {
                loader,
                disk,
                disk_name,
                volume,
            } => {
                let _ = writeln!(
                    out,
                    "booted {loader} on disk {disk} ({disk_name}, volume {volume}) in {} steps, {:.2}s",
                    self.steps.len(),
                    self.elapsed.as_secs_f64()
                );
            }
            Outcome::Failed {
                step,
                stage,
                reason,
                change,
            } => {
                let _ = writeln!(out, "FAILED at step {step} ({stage}): {reason}");
                if let Some(c) = change {
                    let _ = writeln!(out, "what to change: {c}");
                }
            }
        }
        if self.retransmissions > 0 {
            let _ = writeln!(out, "retransmissions: {}", self.retransmissions);
        }
        for l in &self.lints {
            let _ = writeln!(out, "lint: {l}");
        }
        if console {
            let _ = writeln!(out, "console:");
            for (at, source, line) in &self.console {
                let _ = writeln!(out, "  {:>7.2}s {source:<8} {line}", at.as_secs_f64());
            }
        }
        out
    }
}
