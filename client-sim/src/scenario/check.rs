//! A scenario's expectations against what its clients did: one [`Check`] per expectation
//! and client, each saying what was expected and, when it fails, what happened instead.

use std::net::Ipv4Addr;

use super::decl::{Ending, Expect};
use super::Check;
use crate::net::lan::FaultCounts;
use crate::transcript::{Outcome, StepKind, Transcript};

/// Every expectation of `e`, checked.
pub(super) fn check(e: &Expect, transcripts: &[Transcript], faults: &FaultCounts) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut add = |what: String, ok: bool, detail: String| checks.push(Check { what, ok, detail });
    for t in transcripts {
        let who = format!("{} {}", t.firmware, t.mac);
        let (ending, stage, reason, change) = match &t.outcome {
            Outcome::Booted { .. } => (Ending::Booted, None, "", ""),
            Outcome::Failed {
                stage,
                reason,
                change,
                ..
            } => (
                Ending::Failed,
                Some(*stage),
                reason.as_str(),
                change.as_deref().unwrap_or(""),
            ),
        };
        let said = |e: Ending| match e {
            Ending::Booted => "booted",
            Ending::Failed => "failed",
        };
        if let Some(want) = e.outcome {
            add(
                format!("{who}: {}", said(want)),
                ending == want,
                format!("it {}: {reason}", said(ending)),
            );
        }
        match &t.outcome {
            Outcome::Booted { loader, .. } => {
                if let Some(n) = e.steps {
                    add(
                        format!("{who}: {n} steps"),
                        t.steps.len() == n,
                        format!("{} steps", t.steps.len()),
                    );
                }
                if let Some(l) = &e.loader {
                    add(
                        format!("{who}: loader {l}"),
                        loader == l,
                        format!("loader '{loader}'"),
                    );
                }
            }
            Outcome::Failed { .. } => {
                let stage = stage.map(|s| s.as_str()).unwrap_or("");
                if let Some(s) = e.stage {
                    add(
                        format!("{who}: fails at {s}"),
                        stage == s.as_str(),
                        format!("stage '{stage}'"),
                    );
                }
                if let Some(r) = &e.reason_contains {
                    add(
                        format!("{who}: reason has '{r}'"),
                        reason.contains(r.as_str()),
                        format!("reason '{reason}'"),
                    );
                }
                if let Some(c) = &e.change_contains {
                    add(
                        format!("{who}: change has '{c}'"),
                        change.contains(c.as_str()),
                        format!("change '{change}'"),
                    );
                }
            }
        }
        if let Some(n) = e.min_retransmissions {
            add(
                format!("{who}: at least {n} retransmissions"),
                t.retransmissions >= n,
                format!("{} retransmissions", t.retransmissions),
            );
        }
        if let Some(range) = e.leased_range {
            let leased = leases(t);
            add(
                format!("{who}: leased in {} - {}", range.lo, range.hi),
                leased.iter().all(|a| range.contains(*a)),
                format!("leased {leased:?}"),
            );
        }
    }
    if let Some(n) = e.booted {
        let got = transcripts.iter().filter(|t| t.booted()).count();
        add(
            format!("{n} of {} booted", transcripts.len()),
            got == n,
            format!("{got} booted"),
        );
    }
    if let Some(n) = e.min_lost {
        add(
            format!("at least {n} frames lost"),
            faults.lost >= n,
            format!("{} lost", faults.lost),
        );
    }
    checks
}

/// Every address the transcript's DHCP steps leased, in order.
pub fn leases(t: &Transcript) -> Vec<Ipv4Addr> {
    t.steps
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::Dhcp { lease, .. } => *lease,
            _ => None,
        })
        .collect()
}
