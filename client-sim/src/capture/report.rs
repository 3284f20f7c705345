//! Audits rendered for people (a transcript per client, in `bootsim boot`'s layout) and for
//! machines (JSON, `bootsim.audit/1`); JUnit XML is `crate::junit::audit`.

use std::fmt::Write as _;

use super::verdict::Verdict;
use super::Audit;

fn outcome_word(v: Verdict) -> &'static str {
    match v {
        Verdict::HandedOff => "HANDED OFF",
        Verdict::Failed => "FAILED",
        Verdict::Unfinished => "UNFINISHED",
    }
}

/// The text transcripts of one capture.
pub fn render(a: &Audit) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "capture {} ({} packets)", a.file, a.packets);
    if let Some(cut) = &a.cut {
        let _ = writeln!(out, "warning: {cut}");
    }
    for n in &a.notes {
        let _ = writeln!(out, "note: {n}");
    }
    if a.clients.is_empty() {
        let _ = writeln!(out, "no DHCP or TFTP clients in this capture");
    }
    for c in &a.clients {
        let _ = writeln!(out);
        let _ = writeln!(out, "client {}", c.mac);
        if let Some(u) = &c.uuid {
            let _ = writeln!(out, "  uuid {u}");
        }
        if let Some(r) = &c.relay {
            let _ = writeln!(out, "  {r}");
        }
        if !c.vlans.is_empty() {
            let _ = writeln!(out, "  vlan {:?}", c.vlans);
        }
        for r in &c.rounds {
            let _ = writeln!(
                out,
                "  {:<10} packet {:>4}: {}  ja4d {}",
                r.stage, r.first_packet, r.firmware, r.ja4d
            );
        }
        for s in &c.steps {
            let _ = writeln!(
                out,
                "{:>2}. {:>7.2}s  {:<12} {}",
                s.number, s.at, s.stage, s.detail
            );
        }
        let _ = writeln!(out, "{}: {}", outcome_word(c.outcome), c.diagnosis);
        for f in &c.findings {
            if f.text != c.diagnosis {
                let _ = writeln!(out, "  also: {} [{}]", f.text, f.kind);
            }
        }
        if c.retransmissions > 0 {
            let _ = writeln!(out, "retransmissions: {}", c.retransmissions);
        }
    }
    out
}
