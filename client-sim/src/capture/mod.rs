//! Field captures: `bootsim audit` reads a capture of real (or simulated) network boots and
//! tells each client's chain in the step vocabulary of `bootsim boot`, with the firmware of
//! every DHCP round, a JA4D fingerprint, and why the client stopped, citing packet numbers.
//! `read` parses the file, `flows` separates clients, `rounds` groups DHCP, `verdict` tells
//! the story, `report` renders it.

pub mod compare;
mod diagnose;
pub mod firmware;
pub mod flows;
pub mod read;
pub mod replay;
pub mod report;
pub mod rounds;
pub mod verdict;
pub mod words;

use netbootd::time::Instant;
use netbootd::wire::MacAddr;
use std::path::Path;

use serde::Serialize;

pub use read::{read_bytes, read_file, Capture, ReadError};
use verdict::{Finding, RoundSummary, Verdict};

/// One client of a capture, told.
#[derive(Debug, Clone, Serialize)]
pub struct ClientAudit {
    pub mac: String,
    /// The firmware of each program that spoke DHCP, in order.
    pub firmware: Vec<String>,
    pub uuid: Option<String>,
    pub client_id: Option<String>,
    pub relay: Option<String>,
    pub vlans: Vec<u16>,
    pub steps: Vec<verdict::AuditStep>,
    pub rounds: Vec<RoundSummary>,
    pub outcome: Verdict,
    pub diagnosis: String,
    pub findings: Vec<Finding>,
    pub retransmissions: usize,
}

/// A whole capture, told.
#[derive(Debug, Clone, Serialize)]
pub struct Audit {
    pub schema: &'static str,
    pub file: String,
    pub packets: usize,
    /// Where the file stopped being readable, if it did.
    pub cut: Option<String>,
    pub ignored_frames: usize,
    pub notes: Vec<String>,
    pub clients: Vec<ClientAudit>,
}

impl Audit {
    pub fn failed(&self) -> bool {
        self.clients.iter().any(|c| c.outcome == Verdict::Failed)
    }
}

/// Tells every client of an already read capture; `only` keeps one MAC.
pub fn audit(capture: &Capture, only: Option<MacAddr>) -> Audit {
    let f = flows::flows(capture);
    let end = capture
        .packets
        .last()
        .map(|p| p.at)
        .unwrap_or(Instant::ZERO);
    let mut clients = Vec::new();
    for c in &f.clients {
        if only.is_some() && c.mac != only {
            continue;
        }
        let pieces = rounds::pieces(&c.events, &f.transfers);
        if pieces.is_empty() {
            continue;
        }
        let story = verdict::tell(&pieces, end);
        let mut firmware: Vec<String> = Vec::new();
        for r in &story.rounds {
            if firmware.last() != Some(&r.firmware) {
                firmware.push(r.firmware.clone());
            }
        }
        clients.push(ClientAudit {
            mac: c.label.clone(),
            firmware,
            uuid: c.uuid.clone(),
            client_id: c.client_id.clone(),
            relay: c.relay.clone(),
            vlans: c.vlans.clone(),
            steps: story.steps,
            rounds: story.rounds,
            outcome: story.outcome,
            diagnosis: story.reason,
            findings: story.findings,
            retransmissions: story.retransmissions,
        });
    }
    let mut notes = f.notes;
    let dhcp: Vec<bool> = f
        .clients
        .iter()
        .flat_map(|c| c.events.iter())
        .filter_map(|e| match e {
            flows::Event::Dhcp(d) => Some(d.from_client()),
            _ => None,
        })
        .collect();
    // A client asking again and no answer at all: the answers may be there, unseen.
    if dhcp.iter().filter(|c| **c).count() > 1 && dhcp.iter().all(|c| *c) {
        // ipxe/ipxe#1374: a capture taken where the servers' answers do not pass.
        notes.push(
            "no DHCP answer from any server in this capture: was it taken where answers cannot be seen (another segment, a filter)?"
                .into(),
        );
    }
    Audit {
        schema: "bootsim.audit/1",
        file: capture.file.clone(),
        packets: capture.packets.len() + capture.ignored,
        cut: capture.cut.as_ref().map(|c| c.to_string()),
        ignored_frames: capture.ignored,
        notes,
        clients,
    }
}

/// Reads and tells a capture file.
pub fn audit_file(path: &Path, only: Option<MacAddr>) -> Result<Audit, ReadError> {
    Ok(audit(&read_file(path)?, only))
}
