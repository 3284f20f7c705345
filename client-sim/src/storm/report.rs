//! What a storm found: step percentiles, time until a share of the machines booted, what
//! held them up, and the failures with their diagnoses; as text or JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use netbootd::time::Instant;

use serde::Serialize;

use crate::net::lan::{Lan, ServerNote};
use crate::transcript::{Outcome, Transcript};
use netbootd::tftp::engine::Event as TftpEvent;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepLatency {
    /// "1. PXE DHCP": the step's number and stage.
    pub name: String,
    pub count: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// Virtual seconds since the power cut until this share of the machines had booted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BootedBy {
    pub percent: u32,
    /// `None`: that many never booted.
    pub seconds: Option<f64>,
}

/// What held the machines up, measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Bottleneck {
    /// The one-line answer.
    pub verdict: String,
    /// Share of the storm's span the server's port was sending, and receiving.
    pub server_link_tx: f64,
    pub server_link_rx: f64,
    /// The same in the busiest 100 ms: 1.0 means saturated while it mattered.
    pub server_link_tx_peak: f64,
    pub server_link_rx_peak: f64,
    /// Longest wait in the server's transmit queue, seconds.
    pub server_tx_queue_peak: f64,
    /// Frames the switch dropped (buffer full) towards the server (of them DHCP) and
    /// towards the clients.
    pub switch_drops_to_server: u64,
    pub switch_drops_dhcp: u64,
    pub switch_drops_to_clients: u64,
    /// Share of the span the server's DHCP and TFTP workers were busy, and in the busiest
    /// 100 ms.
    pub dhcp_busy: f64,
    pub tftp_busy: f64,
    pub dhcp_busy_peak: f64,
    pub tftp_busy_peak: f64,
    /// Most packets waiting for the server, and the mean wait, seconds.
    pub dhcp_queue_peak: usize,
    pub dhcp_wait_mean: f64,
    pub tftp_queue_peak: usize,
    pub tftp_wait_mean: f64,
    /// DHCP packets dropped by a full socket backlog.
    pub dhcp_socket_drops: u64,
    /// Retransmissions by the clients (all protocols) and by the TFTP server.
    pub client_retransmissions: u64,
    pub tftp_server_retransmissions: u64,
    /// Queries left unanswered because no address was free (pool exhaustion).
    pub pool_exhausted: u64,
    /// TFTP requests refused, by reason (the transfer limit, a missing file).
    pub tftp_refused: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StormReport {
    pub clients: usize,
    pub booted: usize,
    /// Failures by stage and reason.
    pub failures: BTreeMap<String, usize>,
    /// The diagnosis of each kind of failure (what to change), when there is one.
    pub diagnoses: BTreeMap<String, String>,
    /// When each step completed, across the clients, in virtual seconds since the machine
    /// powered on.
    pub steps: Vec<StepLatency>,
    /// Virtual seconds since the power cut until 50, 90, 99 and 100% had booted.
    pub booted_by: Vec<BootedBy>,
    pub bottleneck: Bottleneck,
    pub client_frames: u64,
    pub server_frames: u64,
    /// Frames the clients sent again.
    pub retransmissions: u64,
    /// Virtual time until the last client finished, since the power cut.
    pub virtual_seconds: f64,
    pub wall_seconds: f64,
    pub peak_rss_bytes: u64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The process's peak resident memory (VmHWM), bytes.
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

/// When machine `t` booted (its last step), if it did.
pub fn booted_at(t: &Transcript) -> Option<Instant> {
    t.booted().then(|| t.steps.last().map(|s| s.at)).flatten()
}

fn share(part: Duration, whole: f64) -> f64 {
    if whole > 0.0 {
        (part.as_secs_f64() / whole).min(1.0)
    } else {
        0.0
    }
}

impl StormReport {
    /// The report on `transcripts` after a storm on `lan` (`None`: a real network, whose
    /// links and server are not ours to see); `schedule` holds each machine's (power-on,
    /// network start).
    pub fn new(
        lan: Option<&Lan>,
        transcripts: &[Transcript],
        schedule: &[(Instant, Instant)],
    ) -> StormReport {
        let mut by_step: BTreeMap<(usize, String), Vec<f64>> = BTreeMap::new();
        let mut failures = BTreeMap::new();
        let mut diagnoses = BTreeMap::new();
        for (t, (on, _)) in transcripts.iter().zip(schedule) {
            for s in &t.steps {
                by_step
                    .entry((s.number, s.stage().to_string()))
                    .or_default()
                    .push(s.at.saturating_duration_since(*on).as_secs_f64());
            }
            if let Outcome::Failed {
                stage,
                reason,
                change,
                ..
            } = &t.outcome
            {
                let key = format!("{stage}: {reason}");
                if let Some(change) = change {
                    diagnoses
                        .entry(key.clone())
                        .or_insert_with(|| change.clone());
                }
                *failures.entry(key).or_insert(0) += 1;
            }
        }
        let steps = by_step
            .into_iter()
            .map(|((n, stage), mut v)| {
                v.sort_by(|a, b| a.total_cmp(b));
                StepLatency {
                    name: format!("{n}. {stage}"),
                    count: v.len(),
                    p50: percentile(&v, 0.5),
                    p90: percentile(&v, 0.9),
                    p99: percentile(&v, 0.99),
                    max: v.last().copied().unwrap_or(0.0),
                }
            })
            .collect();
        let mut booted: Vec<f64> = transcripts
            .iter()
            .filter_map(booted_at)
            .map(|d| d.as_secs_f64())
            .collect();
        booted.sort_by(|a, b| a.total_cmp(b));
        let booted_by = [50, 90, 99, 100]
            .into_iter()
            .map(|percent| {
                let need = (transcripts.len() * percent as usize).div_ceil(100).max(1);
                BootedBy {
                    percent,
                    seconds: booted.get(need - 1).copied(),
                }
            })
            .collect();
        let virtual_seconds = transcripts
            .iter()
            .map(|t| t.elapsed.as_secs_f64())
            .fold(0.0, f64::max);
        let retransmissions = transcripts
            .iter()
            .map(|t| u64::from(t.retransmissions))
            .sum();
        let start = schedule
            .iter()
            .map(|(_, s)| s.as_secs_f64())
            .fold(f64::INFINITY, f64::min);
        let span = (virtual_seconds - start.min(virtual_seconds)).max(0.0);
        let mut report = StormReport {
            clients: transcripts.len(),
            booted: booted.len(),
            failures,
            diagnoses,
            steps,
            booted_by,
            bottleneck: lan
                .map(|lan| bottleneck(lan, span, retransmissions))
                .unwrap_or_default(),
            client_frames: lan.map_or(0, |l| l.frame_counts.0),
            retransmissions,
            server_frames: lan.map_or(0, |l| l.frame_counts.1),
            virtual_seconds,
            wall_seconds: 0.0,
            peak_rss_bytes: 0,
        };
        report.storm_diagnoses();
        report.bottleneck.verdict = match lan {
            Some(_) => report.verdict(),
            None if report.failures.is_empty() => {
                "a real network: its link and server are not visible from here (see the step times)"
                    .into()
            }
            None => report.verdict(),
        };
        report
    }

    /// A DHCP failure in a storm whose queries were dropped is the storm's doing, not the
    /// config's: say so instead of the single-machine diagnosis.
    fn storm_diagnoses(&mut self) {
        let b = &self.bottleneck;
        let dropped = b.switch_drops_dhcp + b.dhcp_socket_drops;
        if dropped == 0 {
            return;
        }
        let why = format!(
            "the server was flooded: {} DHCP queries dropped by the switch's full buffer and {} by the server's full socket backlog, retransmissions included; spread the power-on (--power-on uniform:...), or give the server more DHCP capacity",
            b.switch_drops_dhcp, b.dhcp_socket_drops
        );
        for key in self.failures.keys() {
            if key.contains("DHCP") {
                self.diagnoses.insert(key.clone(), why.clone());
            }
        }
    }

    /// The one-line answer to "what breaks first": the commonest failure, else the most
    /// used resource.
    fn verdict(&self) -> String {
        let b = &self.bottleneck;
        if let Some((why, n)) = self.failures.iter().max_by_key(|(_, n)| **n) {
            let mut v = format!("{n} machines failed: {why}");
            if b.pool_exhausted > 0 {
                let _ = write!(
                    v,
                    " (the pool ran out: {} queries unanswered)",
                    b.pool_exhausted
                );
            }
            if let Some((why, n)) = b.tftp_refused.iter().max_by_key(|(_, n)| **n) {
                let _ = write!(v, " (TFTP refused {n} requests: {why})");
            }
            return v;
        }
        // The resource that was busiest while it mattered (its busiest 100 ms), then over
        // the whole storm.
        let candidates = [
            (
                b.server_link_tx_peak,
                b.server_link_tx,
                "the server's link, sending",
            ),
            (
                b.server_link_rx_peak,
                b.server_link_rx,
                "the server's link, receiving",
            ),
            (b.tftp_busy_peak, b.tftp_busy, "the server's TFTP workers"),
            (b.dhcp_busy_peak, b.dhcp_busy, "the server's DHCP workers"),
        ];
        let (peak, overall, what) = candidates
            .into_iter()
            .max_by(|a, b| {
                (a.0, a.1)
                    .partial_cmp(&(b.0, b.1))
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .expect("four candidates");
        let mut v = if peak >= 0.9 {
            format!(
                "{what}: saturated ({:.0}% busy in its busiest 100 ms, {:.0}% over the storm)",
                peak * 100.0,
                overall * 100.0
            )
        } else {
            format!(
                "nothing saturated (busiest: {what}, {:.0}% in its busiest 100 ms): the firmware's own timers set the pace",
                peak * 100.0
            )
        };
        let drops = b.switch_drops_to_server + b.switch_drops_to_clients + b.dhcp_socket_drops;
        if drops > 0 {
            let _ = write!(
                v,
                "; {drops} frames dropped ({} DHCP at the switch, {} at the DHCP socket), {} client retransmissions",
                b.switch_drops_dhcp, b.dhcp_socket_drops, b.client_retransmissions
            );
        }
        v
    }

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
                s.name, s.count, s.p50, s.p90, s.p99, s.max
            );
        }
        let by: Vec<String> = self
            .booted_by
            .iter()
            .map(|b| match b.seconds {
                Some(s) => format!("{}% {s:.2}s", b.percent),
                None => format!("{}% never", b.percent),
            })
            .collect();
        let _ = writeln!(out, "booted since the power cut: {}", by.join(", "));
        let b = &self.bottleneck;
        let _ = writeln!(out, "bottleneck: {}", b.verdict);
        let _ = writeln!(
            out,
            "  server link {:.0}% sending (peak {:.0}%), {:.0}% receiving (peak {:.0}%), transmit queue up to {:.1} ms; switch drops {} to server ({} DHCP), {} to clients",
            b.server_link_tx * 100.0,
            b.server_link_tx_peak * 100.0,
            b.server_link_rx * 100.0,
            b.server_link_rx_peak * 100.0,
            b.server_tx_queue_peak * 1e3,
            b.switch_drops_to_server,
            b.switch_drops_dhcp,
            b.switch_drops_to_clients
        );
        let _ = writeln!(
            out,
            "  server DHCP busy {:.0}% (queue up to {}, mean wait {:.2} ms, {} dropped at the socket); TFTP busy {:.0}% (queue up to {}, mean wait {:.2} ms, {} retransmitted)",
            b.dhcp_busy * 100.0,
            b.dhcp_queue_peak,
            b.dhcp_wait_mean * 1e3,
            b.dhcp_socket_drops,
            b.tftp_busy * 100.0,
            b.tftp_queue_peak,
            b.tftp_wait_mean * 1e3,
            b.tftp_server_retransmissions
        );
        if b.pool_exhausted > 0 {
            let _ = writeln!(
                out,
                "  pool exhausted: {} queries unanswered",
                b.pool_exhausted
            );
        }
        for (why, n) in &b.tftp_refused {
            let _ = writeln!(out, "  TFTP refused x{n}: {why}");
        }
        for (why, n) in &self.failures {
            let _ = writeln!(out, "failed x{n}: {why}");
            if let Some(d) = self.diagnoses.get(why) {
                let _ = writeln!(out, "  diagnosis: {d}");
            }
        }
        let _ = writeln!(
            out,
            "frames: {} from clients ({} retransmitted), {} from servers; virtual {:.2}s; wall {:.2}s; peak memory {:.0} MiB",
            self.client_frames,
            self.retransmissions,
            self.server_frames,
            self.virtual_seconds,
            self.wall_seconds,
            self.peak_rss_bytes as f64 / (1024.0 * 1024.0)
        );
        out
    }

    /// The JSON report without what depends on the machine running it (wall time, memory):
    /// two runs of one seeded storm give the same bytes.
    pub fn reproducible_json(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.remove("wall_seconds");
            o.remove("peak_rss_bytes");
        }
        serde_json::to_string_pretty(&v).unwrap_or_default()
    }
}

/// The measured load on the segment and the server over `span` virtual seconds.
fn bottleneck(lan: &Lan, span: f64, client_retransmissions: u64) -> Bottleneck {
    let mut b = Bottleneck {
        client_retransmissions,
        tftp_server_retransmissions: lan.server_retransmissions,
        ..Bottleneck::default()
    };
    if let Some(links) = &lan.links {
        let c = &links.counts;
        b.server_link_tx = share(Duration::from_nanos(c.server_tx_busy_ns), span);
        b.server_link_rx = share(Duration::from_nanos(c.server_rx_busy_ns), span);
        b.server_link_tx_peak = c.server_tx_windows.peak(1);
        b.server_link_rx_peak = c.server_rx_windows.peak(1);
        b.server_tx_queue_peak = Duration::from_nanos(c.server_tx_queue_peak_ns).as_secs_f64();
        b.switch_drops_to_server = c.dropped_to_server;
        b.switch_drops_dhcp = c.dropped_dhcp;
        b.switch_drops_to_clients = c.dropped_to_clients;
    }
    if let Some(load) = &lan.load {
        let mean = |w: &crate::net::capacity::Workers| {
            if w.handled > 0 {
                w.waited.as_secs_f64() / w.handled as f64
            } else {
                0.0
            }
        };
        let c = &load.capacity;
        b.dhcp_busy = share(load.dhcp.busy, span * c.dhcp_workers.max(1) as f64);
        b.tftp_busy = share(load.tftp.busy, span * c.tftp_workers.max(1) as f64);
        b.dhcp_busy_peak = load.dhcp.windows.peak(c.dhcp_workers);
        b.tftp_busy_peak = load.tftp.windows.peak(c.tftp_workers);
        b.dhcp_queue_peak = load.dhcp.peak_backlog;
        b.tftp_queue_peak = load.tftp.peak_backlog;
        b.dhcp_wait_mean = mean(&load.dhcp);
        b.tftp_wait_mean = mean(&load.tftp);
        b.dhcp_socket_drops = load.dhcp.dropped;
    }
    for note in &lan.notes {
        match note {
            ServerNote::Dhcp {
                silence: Some(why), ..
            } if why == "NoAddress" => b.pool_exhausted += 1,
            ServerNote::Tftp {
                event: TftpEvent::Refused { refused, .. },
                ..
            } => *b.tftp_refused.entry(format!("{refused:?}")).or_insert(0) += 1,
            _ => {}
        }
    }
    b
}
