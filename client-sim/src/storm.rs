//! Boot storms: N machines (distinct MACs and UUIDs) power on together against one server,
//! and the report says how long each step took across them (percentiles of virtual time),
//! how many frames the clients sent, and which failed where. Wall time and peak memory
//! measure bootsim itself.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::chain::{ChainClient, Client};
use crate::net::lan::{Lan, Station};
use crate::transcript::{Outcome, Transcript};

#[derive(Debug, Clone, Serialize)]
pub struct StepLatency {
    pub step: String,
    pub count: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StormReport {
    pub clients: usize,
    pub booted: usize,
    /// Failures by stage and reason.
    pub failures: BTreeMap<String, usize>,
    /// When each step completed, across the clients, in virtual seconds since power-on.
    pub steps: Vec<StepLatency>,
    pub client_frames: u64,
    pub server_frames: u64,
    /// Frames the clients sent again.
    pub retransmissions: u64,
    /// Virtual time until the last client finished.
    pub virtual_seconds: f64,
    pub wall_seconds: f64,
    pub peak_rss_mib: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The process's peak resident memory (VmHWM), MiB.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// `template`'s firmware and disks for `n` machines: MACs 02:00:xx:xx:xx:xx, UUIDs from them.
pub fn clients(template: &Client, n: usize) -> Vec<Client> {
    (0..n)
        .map(|i| {
            let b = (i as u32 + 1).to_be_bytes();
            let mac = [0x02, 0x00, b[0], b[1], b[2], b[3]];
            let mut uuid = template.uuid;
            uuid[12..16].copy_from_slice(&b);
            Client {
                mac,
                uuid,
                seed: template.seed ^ (i as u32).wrapping_mul(0x9e37_79b9),
                ..template.clone()
            }
        })
        .collect()
}

/// Boots every client at once on `lan` and reports.
pub fn storm(lan: &mut Lan, clients: &[Client]) -> (StormReport, Vec<Transcript>) {
    let wall = Instant::now();
    lan.keep_frames = false;
    let mut stations: Vec<ChainClient> = clients
        .iter()
        .map(|c| ChainClient::new(c.clone(), Duration::ZERO))
        .collect();
    {
        let mut refs: Vec<&mut dyn Station> =
            stations.iter_mut().map(|s| s as &mut dyn Station).collect();
        lan.run_all(&mut refs, Duration::from_secs(3600));
    }
    let transcripts: Vec<Transcript> = stations.into_iter().map(|s| s.finish(lan)).collect();
    let mut by_step: BTreeMap<(usize, String), Vec<f64>> = BTreeMap::new();
    let mut failures = BTreeMap::new();
    for t in &transcripts {
        for s in &t.steps {
            by_step
                .entry((s.number, s.stage().to_string()))
                .or_default()
                .push(s.at.as_secs_f64());
        }
        if let Outcome::Failed { stage, reason, .. } = &t.outcome {
            *failures.entry(format!("{stage}: {reason}")).or_insert(0) += 1;
        }
    }
    let steps = by_step
        .into_iter()
        .map(|((n, stage), mut v)| {
            v.sort_by(|a, b| a.total_cmp(b));
            StepLatency {
                step: format!("{n}. {stage}"),
                count: v.len(),
                p50: percentile(&v, 0.5),
                p90: percentile(&v, 0.9),
                p99: percentile(&v, 0.99),
                max: v.last().copied().unwrap_or(0.0),
            }
        })
        .collect();
    let report = StormReport {
        clients: transcripts.len(),
        booted: transcripts.iter().filter(|t| t.booted()).count(),
        failures,
        steps,
        client_frames: lan.frame_counts.0,
        retransmissions: transcripts
            .iter()
            .map(|t| u64::from(t.retransmissions))
            .sum(),
        server_frames: lan.frame_counts.1,
        virtual_seconds: transcripts
            .iter()
            .map(|t| t.elapsed.as_secs_f64())
            .fold(0.0, f64::max),
        wall_seconds: wall.elapsed().as_secs_f64(),
        peak_rss_mib: peak_rss_mib(),
    };
    (report, transcripts)
}

impl StormReport {
    pub fn render(&self) -> String {
        let mut out = format!(
            "{} clients: {} booted, {} failed\n",
            self.clients,
            self.booted,
            self.clients - self.booted
        );
        let _ = writeln!(
            out,
            "{:<18} {:>7} {:>9} {:>9} {:>9} {:>9}   (virtual seconds since power-on)",
            "step", "count", "p50", "p90", "p99", "max"
        );
        for s in &self.steps {
            let _ = writeln!(
                out,
                "{:<18} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                s.step, s.count, s.p50, s.p90, s.p99, s.max
            );
        }
        for (why, n) in &self.failures {
            let _ = writeln!(out, "failed x{n}: {why}");
        }
        let _ = writeln!(
            out,
            "frames: {} from clients ({} retransmitted), {} from servers; virtual {:.2}s; wall {:.2}s; peak memory {:.0} MiB",
            self.client_frames, self.retransmissions, self.server_frames, self.virtual_seconds, self.wall_seconds, self.peak_rss_mib
        );
        out
    }
}
