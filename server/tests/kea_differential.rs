//! Differential test: real `kea-dhcp4 -t` (Debian's Kea 2.2) and `netbootd check --kea-version
//! 2.2` must agree on every config: valid or not, and where the first error is. For our own
//! cases (fixtures/kea/cases: broken keys, types, options, pools, subnets, reservations,
//! classes, interfaces, hooks, plus a few edge cases Kea accepts) the error text must be
//! Kea's, word for word. Kea's own examples (kea-doc, fetched by ci/kea-doc.sh) must agree on
//! verdict and first error position.

mod support;

use std::path::{Path, PathBuf};

use netbootd::kea::check::check_file;
use netbootd::kea::system::LocalSystem;
use netbootd::kea::KeaVersion;

struct Ours {
    valid: bool,
    first_position: Option<(u32, u32)>,
    error: Option<String>,
    warnings: Vec<(u32, u32)>,
}

fn ours(path: &Path) -> Ours {
    let outcome = check_file(path, KeaVersion::V2_2, &LocalSystem).expect("readable");
    let error = outcome.error.as_ref().map(|e| e.to_string());
    Ours {
        valid: outcome.is_valid(),
        first_position: error.as_deref().and_then(support::first_position),
        error,
        warnings: outcome
            .warnings
            .iter()
            .filter_map(|w| w.span.as_ref().map(|s| (s.start.line, s.start.col)))
            .collect(),
    }
}

fn configs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json" || x == "conf"))
        .collect();
    files.sort();
    files
}

/// Compares every config in `dir`; returns the disagreements, one line each.
fn compare(dir: &Path, exact_text: bool) -> (usize, Vec<String>) {
    let mut differences = Vec::new();
    let files = configs(dir);
    for path in &files {
        let kea = support::kea_check(path);
        let us = ours(path);
        let name = path.display();
        if kea.valid != us.valid || kea.first_position != us.first_position {
            differences.push(format!(
                "{name}: kea {} {:?} {:?} / ours {} {:?} {:?}",
                kea.valid, kea.first_position, kea.error, us.valid, us.first_position, us.error
            ));
        } else if exact_text && kea.error != us.error {
            differences.push(format!("{name}: kea {:?} / ours {:?}", kea.error, us.error));
        } else if kea.warnings != us.warnings {
            differences.push(format!(
                "{name}: warnings kea {:?} / ours {:?}",
                kea.warnings, us.warnings
            ));
        }
    }
    (files.len(), differences)
}

#[test]
fn our_cases_fail_where_and_as_kea_fails() {
    if !support::require_tool("kea-dhcp4") {
        return;
    }
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/kea/cases"
    ));
    let invalid = configs(dir)
        .iter()
        .filter(|p| !support::kea_check(p).valid)
        .count();
    assert!(invalid >= 30, "only {invalid} configs Kea refuses");
    let (_, differences) = compare(dir, true);
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// The kea4 examples of Debian's kea-doc: ci/kea-doc.sh unpacks them and ci/test.sh exports
/// KEA_DOC_EXAMPLES; a developer may run ci/kea-doc.sh once instead.
fn kea_doc_examples() -> Option<PathBuf> {
    let dir = std::env::var_os("KEA_DOC_EXAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../target/kea-doc/usr/share/doc/kea/examples/kea4")
        });
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{}: kea-doc examples missing (ci/kea-doc.sh)",
            dir.display()
        );
    }
    eprintln!("skipping: {} missing (run ci/kea-doc.sh)", dir.display());
    None
}

#[test]
fn kea_doc_examples_get_keas_verdict() {
    if !support::require_tool("kea-dhcp4") {
        return;
    }
    let Some(dir) = kea_doc_examples() else {
        return;
    };
    let (count, differences) = compare(&dir, false);
    assert!(count >= 20, "only {count} examples in {}", dir.display());
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
