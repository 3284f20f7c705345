//! Audits rendered for people (a transcript per client, in `bootsim boot`'s layout), for
//! machines (JSON, `bootsim.audit/1`) and for CI (JUnit XML via quick-junit, one test case
//! per client that fails when the client failed).

use std::fmt::Write as _;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

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

/// JUnit XML: one suite per capture, one case per client.
pub fn junit(audits: &[Audit]) -> String {
    let mut report = Report::new("bootsim audit");
    for a in audits {
        let mut suite = TestSuite::new(a.file.clone());
        for c in &a.clients {
            let status = match c.outcome {
                Verdict::Failed => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(c.diagnosis.clone());
                    s
                }
                _ => TestCaseStatus::success(),
            };
            let mut case = TestCase::new(c.mac.clone(), status);
            case.set_system_out(
                c.steps
                    .iter()
                    .map(|s| format!("{}. {} {}\n", s.number, s.stage, s.detail))
                    .collect::<String>(),
            );
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- junit: {e} -->"))
}
