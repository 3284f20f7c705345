//! A client's chain told as steps in `bootsim boot`'s vocabulary (PXE DHCP, TFTP NBP, iPXE
//! DHCP, TFTP script, iPXE fetch, chain), and why it stopped, with packet numbers. A capture
//! that ends mid-chain leaves the client "unfinished", not failed.

use netbootd::time::Instant;

use serde::Serialize;

use super::flows::Transfer;
use super::rounds::{OfferKind, Piece, Round};
use super::words::{arch_mismatch, describe, list, looks_like_ipxe, options, secs};

#[derive(Debug, Clone, Serialize)]
pub struct AuditStep {
    pub number: usize,
    pub stage: String,
    /// Seconds since the capture's first packet.
    pub at: f64,
    pub detail: String,
    /// The packets this step is made of.
    pub packets: Vec<usize>,
}

/// A named reason, with the packets that show it.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub kind: String,
    pub text: String,
    pub packets: Vec<usize>,
    /// It stops the boot (unless the client recovers later in the capture).
    pub fatal: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The last stage got its file (or was handed a URL outside TFTP).
    HandedOff,
    Failed,
    /// The capture ends mid-chain.
    Unfinished,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoundSummary {
    pub stage: String,
    pub firmware: String,
    pub class: String,
    pub ja4d: String,
    pub evidence: Vec<String>,
    pub first_packet: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Story {
    pub steps: Vec<AuditStep>,
    pub rounds: Vec<RoundSummary>,
    pub findings: Vec<Finding>,
    pub outcome: Verdict,
    /// One line: what happened last, or why it failed.
    pub reason: String,
    pub retransmissions: usize,
}

pub(super) fn stage_of(r: &Round) -> &'static str {
    match r.identity.class.as_str() {
        "ipxe" => "iPXE DHCP",
        "uefi-http" => "HTTP DHCP",
        "edk2-uefi" | "bios-pxe" => "PXE DHCP",
        _ if r.identity.name.contains("PXE") => "PXE DHCP",
        _ => "DHCP",
    }
}

pub(super) struct Builder {
    pub(super) story: Story,
    /// The file whose transfer started the current program, if it was iPXE: (name, RRQ
    /// packet, size).
    pub(super) started_by: Option<(String, usize, usize)>,
    /// The last completed transfer: (file, stage, description).
    pub(super) last_complete: Option<(String, String, String)>,
    /// The stage of the current program: "PXE DHCP", "iPXE DHCP"...
    pub(super) program: Option<String>,
    /// The boot file the current program's DHCP gave.
    pub(super) dhcp_file: Option<String>,
    /// Option 93 of the program that fetches: (arch, its firmware name).
    pub(super) arch: Option<(u16, String)>,
    /// The piece just before was a transfer that completed.
    pub(super) just_completed: bool,
    /// The file that started the first iPXE of a loop.
    pub(super) loop_origin: Option<String>,
    pub(super) capture_end: Instant,
}

impl Builder {
    fn step(&mut self, stage: &str, at: Instant, detail: String, packets: Vec<usize>) {
        let number = self.story.steps.len() + 1;
        self.story.steps.push(AuditStep {
            number,
            stage: stage.into(),
            at: secs(at),
            detail,
            packets,
        });
    }

    pub(super) fn find(&mut self, kind: &str, text: String, packets: Vec<usize>, fatal: bool) {
        self.story.findings.push(Finding {
            kind: kind.into(),
            text,
            packets,
            fatal,
        });
    }

    fn round(&mut self, r: &Round, after_failure: bool) {
        let stage = stage_of(r);
        self.story.rounds.push(RoundSummary {
            stage: stage.into(),
            firmware: r.identity.name.clone(),
            class: r.identity.class.clone(),
            ja4d: r.fingerprint.clone(),
            evidence: r.identity.evidence.clone(),
            first_packet: r.first.packet,
        });
        if stage == "iPXE DHCP" && self.just_completed {
            if let Some((file, _, desc)) = self.last_complete.clone() {
                if self.program.as_deref() == Some("iPXE DHCP") {
                    self.step("chain", r.first.at, format!("{file} ({desc})"), vec![]);
                }
            }
        }
        self.program = Some(stage.into());
        self.arch = r.identity.arch.map(|a| (a, r.identity.name.clone()));
        self.story.retransmissions += r.discovers.len().saturating_sub(1)
            + r.requests.len().saturating_sub(1)
            + r.binl.len().saturating_sub(1);

        let mut parts = Vec::new();
        let secs_seen: Vec<String> = r.discovers.iter().map(|d| d.2.to_string()).collect();
        let xids = {
            let mut x: Vec<u32> = r.discovers.iter().map(|d| d.1).collect();
            x.dedup();
            x.len()
        };
        if r.discovers.len() > 1 {
            parts.push(format!(
                "{} DISCOVERs ({} xid{}, secs {})",
                r.discovers.len(),
                xids,
                if xids == 1 { "" } else { "s" },
                secs_seen.join(",")
            ));
        }
        match r.lease() {
            Some((ip, server)) => parts.insert(0, format!("{ip} leased from {server}")),
            None if !r.offers.is_empty() => {
                parts.insert(0, format!("{} offer(s), no lease", r.offers.len()))
            }
            None => parts.insert(0, "no answer".into()),
        }
        let boot = r.boot_file();
        if let Some((file, server, _)) = &boot {
            parts.push(format!("file {file} from {server}"));
        }
        let proxies: Vec<_> = r
            .offers
            .iter()
            .filter(|o| o.kind == OfferKind::Proxy)
            .collect();
        if let Some(p) = proxies.first() {
            parts.push(format!("ProxyDHCP {}", p.dhcp.server()));
        }
        if let Some(b) = r.binl.first() {
            let answered = if r.binl_replies.is_empty() {
                "unanswered"
            } else {
                "answered"
            };
            parts.push(format!("4011 request to {} {answered}", b.dst.0));
        }
        self.dhcp_file = boot.as_ref().map(|b| b.0.clone());
        self.step(stage, r.first.at, parts.join(", "), r.packets());

        self.dhcp_findings(r, after_failure);
    }

    fn transfer(&mut self, t: &Transfer, probe_before: bool) {
        let before = self.story.findings.len();
        // The client asks for a file after all: it had a boot file from somewhere (iPXE keeps
        // the filename of an earlier ProxyDHCP offer).
        for f in &mut self.story.findings {
            if f.kind == "lease-without-boot-file" {
                f.fatal = false;
            }
        }
        let program = self.program.clone().unwrap_or_default();
        let stage = match program.as_str() {
            "iPXE DHCP"
                if self.dhcp_file.as_deref().map(|f| f.trim_start_matches('/'))
                    == Some(t.file.trim_start_matches('/')) =>
            {
                "TFTP script"
            }
            "iPXE DHCP" => "iPXE fetch",
            "PXE DHCP" => "TFTP NBP",
            _ => "TFTP",
        };
        let bytes = t.bytes();
        let content = t.content();
        let desc = describe(&content);
        let mut detail = format!("{} from {}", t.file, t.server);
        if let Some((_, granted)) = &t.granted {
            detail.push_str(&format!(
                " (asked {}, granted {})",
                options(&t.asked),
                options(granted)
            ));
        } else if !t.asked.is_empty() {
            detail.push_str(&format!(" (asked {}, no OACK)", options(&t.asked)));
        }
        if probe_before {
            detail.push_str(", after a tsize probe (normal)");
        }
        let blocks = t.blocks.keys().next_back().copied().unwrap_or(0);
        self.story.retransmissions +=
            t.data_resent.len() + t.acks_resent.len() + t.rrq_repeats.len();
        // Chainload loop: iPXE fetches the very file that started it (ipxe/ipxe#1527).
        if let Some((file, packet, size)) = self.started_by.clone() {
            // The same name is a loop unless the size shows another file (a server that
            // answers iPXE with its second stage under the same name).
            let now_size = if t.complete() {
                Some(bytes)
            } else {
                t.granted
                    .as_ref()
                    .and_then(|(_, o)| o.iter().find(|(k, _)| k == "tsize"))
                    .and_then(|(_, v)| v.parse().ok())
            };
            let same_name = file.trim_start_matches('/') == t.file.trim_start_matches('/');
            if program == "iPXE DHCP" && same_name && now_size.is_none_or(|n| n == size) {
                let earlier = self
                    .story
                    .findings
                    .iter_mut()
                    .find(|f| f.kind == "chainload-loop");
                let mut packets = earlier
                    .as_ref()
                    .map(|f| f.packets.clone())
                    .unwrap_or(vec![packet]);
                packets.push(t.rrq);
                let origin = self.loop_origin.get_or_insert(file.clone()).clone();
                let text = format!(
                    "chainload loop: iPXE (started by {origin}, packet {}) requests {} again ({}); match iPXE by user-class (option 77) or option 175 and give it its next stage",
                    packets[0],
                    t.file,
                    list(&packets[1..])
                );
                match earlier {
                    Some(f) => {
                        f.text = text;
                        f.packets = packets;
                        f.fatal = true;
                    }
                    None => self.find("chainload-loop", text, packets, true),
                }
            }
        }
        if t.complete() {
            detail.push_str(&format!(": {bytes} bytes in {blocks} blocks ({desc})"));
            self.step(stage, t.at, detail, t.packets.clone());
            if let Some((arch, firmware)) = self.arch.clone().filter(|_| stage == "TFTP NBP") {
                if let Some(image) = arch_mismatch(arch, &content) {
                    self.find(
                        "offer-arch-mismatch",
                        format!(
                            "{} is a {image} image; the firmware that fetched it ({firmware}, option 93 = {arch}) cannot start it (EFI_UNSUPPORTED): serve it a build for its architecture",
                            t.file
                        ),
                        vec![t.rrq],
                        true,
                    );
                }
            }
            self.last_complete = Some((t.file.clone(), stage.into(), desc));
            self.started_by = looks_like_ipxe(t).then(|| (t.file.clone(), t.rrq, bytes));
            // A completed transfer means the client got past any earlier failure (a loop found
            // by this very transfer stays: the loop goes on).
            for f in &mut self.story.findings[..before] {
                if f.kind != "chainload-loop" {
                    f.fatal = false;
                }
            }
            return;
        }
        match &t.error {
            Some((code, msg, by_client, packet)) if !*by_client && t.data_resent.len() < 2 => {
                let kind = match code {
                    1 => "tftp-file-not-found",
                    2 => "tftp-access-violation",
                    8 => "tftp-option-refused",
                    _ => "tftp-error",
                };
                detail.push_str(&format!(": ERROR {code} {msg:?} from the server"));
                self.step(stage, t.at, detail, t.packets.clone());
                self.find(
                    kind,
                    format!(
                        "TFTP {} from {}: ERROR {code} {msg:?} (packet {packet})",
                        t.file, t.server
                    ),
                    vec![t.rrq, *packet],
                    true,
                );
                return;
            }
            Some((code, msg, true, packet)) => {
                detail.push_str(&format!(
                    ": the client aborted with ERROR {code} {msg:?} after {bytes} bytes"
                ));
                self.step(stage, t.at, detail, t.packets.clone());
                self.find(
                    "tftp-client-abort",
                    format!(
                        "the client aborted {} with ERROR {code} {msg:?} (packet {packet})",
                        t.file
                    ),
                    vec![*packet],
                    true,
                );
                return;
            }
            _ => {}
        }
        // A stall: the server keeps resending a block the client does not acknowledge.
        if t.data_resent.len() >= 2 {
            let (block, first_resend) = t.data_resent[0];
            let acked = t.last_ack.map(|a| a.0).unwrap_or(0);
            let (ack_text, ack_packet) = match t.last_ack {
                Some((b, p)) => (format!("last ACK: block {b}, packet {p}"), vec![p]),
                None => ("it never ACKed".to_string(), vec![]),
            };
            let gave_up = match &t.error {
                Some((code, msg, false, p)) => format!(
                    ", then gave up with ERROR {code} {msg:?} (packet {p}, at {:.1} s)",
                    t.last_at.as_secs_f64()
                ),
                _ => " until the capture ends".into(),
            };
            detail.push_str(&format!(": stalled at block {block}, {acked} acknowledged"));
            self.step(stage, t.at, detail, t.packets.clone());
            let mut packets = ack_packet;
            packets.push(first_resend);
            if let Some((_, _, _, p)) = &t.error {
                packets.push(*p);
            }
            self.find(
                "tftp-stall",
                format!(
                    "TFTP {} stalled at block {block}: the client never acknowledged it ({ack_text}); the server resent block {block} {} times (from packet {first_resend}){gave_up}",
                    t.file,
                    t.data_resent.len()
                ),
                packets,
                true,
            );
            return;
        }
        // The other way round: the client keeps acknowledging, the server sends nothing more.
        if t.acks_resent.len() >= 2 {
            let (block, first) = t.acks_resent[0];
            detail.push_str(&format!(": stalled after block {block}"));
            self.step(stage, t.at, detail, t.packets.clone());
            self.find(
                "tftp-stall",
                format!(
                    "TFTP {} stalled after block {block}: the server stopped sending; the client re-sent ACK {block} {} times (from packet {first})",
                    t.file,
                    t.acks_resent.len()
                ),
                vec![first],
                true,
            );
            return;
        }
        detail.push_str(&format!(
            ": {bytes} bytes so far, capture ends mid-transfer"
        ));
        self.step(stage, t.at, detail, t.packets.clone());
    }
}

/// Tells one client's chain.
pub fn tell(pieces: &[Piece], capture_end: Instant) -> Story {
    let mut b = Builder {
        story: Story {
            steps: Vec::new(),
            rounds: Vec::new(),
            findings: Vec::new(),
            outcome: Verdict::Unfinished,
            reason: String::new(),
            retransmissions: 0,
        },
        started_by: None,
        last_complete: None,
        program: None,
        dhcp_file: None,
        arch: None,
        just_completed: false,
        loop_origin: None,
        capture_end,
    };
    let mut i = 0;
    while i < pieces.len() {
        match &pieces[i] {
            Piece::Round(r) => {
                let after_failure = b.story.findings.iter().any(|f| f.fatal);
                b.round(r, after_failure);
                b.just_completed = false;
            }
            Piece::Transfer(t) if t.is_size_probe() => {
                // Folded into the download of the same file that follows.
                let next_same =
                    matches!(pieces.get(i + 1), Some(Piece::Transfer(n)) if n.file == t.file);
                if next_same {
                    if let Some(Piece::Transfer(n)) = pieces.get(i + 1) {
                        let mut n = n.clone();
                        n.packets.splice(0..0, t.packets.iter().copied());
                        n.at = t.at;
                        b.transfer(&n, true);
                    }
                    i += 2;
                    continue;
                }
                let stage = if b.program.as_deref() == Some("iPXE DHCP") {
                    "iPXE fetch"
                } else {
                    "TFTP NBP"
                };
                b.step(
                    stage,
                    t.at,
                    format!(
                        "{} from {}: tsize probe, answered {} (normal)",
                        t.file,
                        t.server,
                        t.granted
                            .as_ref()
                            .map(|g| options(&g.1))
                            .unwrap_or_default()
                    ),
                    t.packets.clone(),
                );
            }
            Piece::Transfer(t) => b.transfer(t, false),
        }
        b.just_completed = matches!(&pieces[i], Piece::Transfer(t) if t.complete())
            || matches!((&pieces[i], pieces.get(i + 1)), (Piece::Transfer(t), Some(Piece::Transfer(n))) if t.is_size_probe() && n.complete());
        i += 1;
    }
    let mut story = b.story;
    let fatal: Vec<&Finding> = story.findings.iter().filter(|f| f.fatal).collect();
    let hard = fatal
        .iter()
        .rev()
        .find(|f| f.kind != "chainload-loop")
        .or(fatal.last());
    if let Some(f) = hard {
        story.outcome = Verdict::Failed;
        story.reason = f.text.clone();
    } else {
        let handed_url = b
            .dhcp_file
            .as_ref()
            .filter(|f| f.contains("://") && !f.starts_with("tftp://"));
        let last_is_complete = matches!(pieces.last(), Some(Piece::Transfer(t)) if t.complete());
        if let Some(url) = handed_url.filter(|_| matches!(pieces.last(), Some(Piece::Round(_)))) {
            story.outcome = Verdict::HandedOff;
            story.reason = format!("handed off: the last stage was given {url} (outside TFTP)");
        } else if last_is_complete {
            let (file, _, desc) = b.last_complete.clone().unwrap_or_default();
            story.outcome = Verdict::HandedOff;
            story.reason =
                format!("handed off to {file} ({desc}); the capture shows no later stage");
        } else {
            let last = story
                .steps
                .last()
                .map(|s| format!("step {} ({})", s.number, s.stage));
            story.reason = format!(
                "capture ends mid-chain after {}",
                last.unwrap_or_else(|| "no step".into())
            );
        }
    }
    story
}
