//! JUnit XML for CI, written in one place with `quick-junit` (which escapes, control
//! characters included): scenario runs, `validate` reports and field-capture audits each
//! become one report that GitHub Actions, GitLab CI and Jenkins read.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::capture::verdict::Verdict;
use crate::capture::Audit;
use crate::scenario::ScenarioRun;
use crate::validate::{Report as ValidateReport, Severity};

/// A failed case: its one-line message and its full text.
fn failure(message: &str, text: &str) -> TestCaseStatus {
    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
    s.set_message(message.to_string());
    s.set_description(text.to_string());
    s
}

fn xml(report: &Report) -> String {
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- junit: {e} -->\n"))
}

/// One test case per scenario (named after it, class its file); a failure carries the
/// first broken expectation and the whole transcript.
pub fn scenarios(runs: &[ScenarioRun]) -> String {
    let mut suite = TestSuite::new("bootsim");
    for r in runs {
        let status = match r.checks.iter().find(|c| !c.ok) {
            None => TestCaseStatus::success(),
            Some(c) => failure(&format!("{}: {}", c.what, c.detail), &r.render(false)),
        };
        let mut case = TestCase::new(r.name.clone(), status);
        case.set_classname(r.file.clone());
        let time = r.transcripts.iter().map(|t| t.elapsed).max();
        case.set_time(time.unwrap_or_default());
        suite.add_test_case(case);
    }
    let mut report = Report::new("bootsim run");
    report.add_test_suite(suite);
    xml(&report)
}

/// One test case per firmware of the matrix and one for the config as a whole; each fails
/// with its errors (warnings do not fail CI).
pub fn validate(report: &ValidateReport) -> String {
    let errors = |firmware: Option<&str>| -> Vec<&str> {
        report
            .problems
            .iter()
            .filter(|p| p.severity == Severity::Error && p.firmware.as_deref() == firmware)
            .map(|p| p.message.as_str())
            .collect()
    };
    let mut suite = TestSuite::new(format!("bootsim validate {}", report.config));
    let names = report
        .rows
        .iter()
        .map(|r| (r.firmware.as_str(), Some(r.firmware.as_str())))
        .chain([("config", None)]);
    for (name, firmware) in names {
        let errs = errors(firmware);
        let status = match errs.first() {
            None => TestCaseStatus::success(),
            Some(first) => failure(first, &errs.join("\n")),
        };
        let mut case = TestCase::new(name.to_string(), status);
        case.set_classname("validate");
        suite.add_test_case(case);
    }
    let mut out = Report::new("bootsim validate");
    out.add_test_suite(suite);
    xml(&out)
}

/// One suite per capture, one case per client.
pub fn audit(audits: &[Audit]) -> String {
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
    xml(&report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Check;
    use crate::transcript::Transcript;

    fn run(name: &str, ok: bool) -> ScenarioRun {
        ScenarioRun {
            name: name.into(),
            file: format!("scenarios/{name}.toml"),
            transcripts: vec![Transcript::new(
                "bios",
                netbootd::wire::MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]),
            )],
            checks: vec![Check {
                what: "bios 52:54:00:12:34:56: booted".into(),
                ok,
                detail: "it failed: <PXE-E53> & \u{1b}[1m".into(),
            }],
            faults: Default::default(),
            frames: Vec::new(),
        }
    }

    #[test]
    fn a_broken_scenario_is_a_failed_case_named_after_it_and_escaped() {
        let xml = scenarios(&[run("seed", true), run("bios-client", false)]);
        assert!(xml.contains("tests=\"2\""), "{xml}");
        assert!(xml.contains("failures=\"1\""), "{xml}");
        assert!(
            xml.contains("<testcase name=\"bios-client\" classname=\"scenarios/bios-client.toml\""),
            "{xml}"
        );
        assert!(xml.contains("&lt;PXE-E53&gt; &amp;"), "{xml}");
        // A control character is not XML 1.0: quick-junit writes it escaped, not raw.
        assert!(!xml.contains('\u{1b}'), "{xml}");
    }
}
