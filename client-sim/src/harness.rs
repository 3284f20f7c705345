//! Every scenario file of a repository as a test of its own: [`scenario_tests!`] expands
//! to a test binary's `main` (a `[[test]]` with `harness = false`) that finds the files of
//! a glob, runs each as a test named after its file, fails it when an expectation breaks,
//! and snapshots its transcript with insta (`tests/snapshots/scenario@<file>.snap`).
//!
//! It is a macro so that insta sees the caller's crate: snapshots belong to the user's
//! repository, not to bootsim's. The runner is libtest-mimic, so `cargo test seed`,
//! `--list` and `--test-threads` work as with the standard harness.
//!
//! [`scenario_tests!`]: crate::scenario_tests

use std::path::{Path, PathBuf};

#[doc(hidden)]
pub use insta;

use libtest_mimic::{Arguments, Failed, Trial};

use crate::scenario::Scenario;

/// The files `pattern` (relative to `root`, the package) matches, sorted.
fn files(root: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let full = root.join(pattern);
    let found = glob::glob(&full.to_string_lossy()).map_err(|e| format!("{pattern}: {e}"))?;
    let mut out: Vec<PathBuf> = found.filter_map(Result::ok).collect();
    out.sort();
    Ok(out)
}

/// Runs every scenario `pattern` matches under `root` as a test; `snapshot(name, text)`
/// compares a transcript with its snapshot. Used by [`scenario_tests!`](crate::scenario_tests).
#[doc(hidden)]
pub fn run(root: &str, pattern: &str, snapshot: fn(&str, &str)) -> std::process::ExitCode {
    let args = Arguments::from_args();
    let trials = match files(Path::new(root), pattern) {
        Ok(files) if !files.is_empty() => files
            .into_iter()
            .map(|path| {
                let name = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let test = name.clone();
                Trial::test(test, move || check(&path, &name, snapshot))
            })
            .collect(),
        Ok(_) => {
            let message = format!("no file matches {pattern} under {root}");
            vec![Trial::test("scenario files", move || Err(message.into()))]
        }
        Err(e) => vec![Trial::test("scenario files", move || Err(e.into()))],
    };
    libtest_mimic::run(&args, trials).exit_code()
}

/// One scenario: loads, runs, checks its expectations, then its snapshot.
fn check(path: &Path, name: &str, snapshot: fn(&str, &str)) -> Result<(), Failed> {
    let scenario = Scenario::load(path).map_err(|e| e.to_string())?;
    let run = scenario.run().map_err(|e| e.to_string())?;
    let text = run.render(false);
    if !run.passed() {
        return Err(text.into());
    }
    snapshot(name, &text);
    Ok(())
}

/// Every scenario file a glob matches (relative to the package) as a test named after its
/// file, with an insta snapshot of its transcript. Put it alone in a test target declared
/// with `harness = false`:
///
/// ```toml
/// [[test]]
/// name = "scenarios"
/// harness = false
/// ```
///
/// and in `tests/scenarios.rs`:
///
/// ```ignore
/// bootsim::scenario_tests!("scenarios/*.toml");
/// ```
///
/// `cargo test --test scenarios` then lists one test per file; a scenario whose
/// expectation breaks fails with its transcript, one whose transcript changed fails with
/// insta's diff (`cargo insta review` accepts it).
#[macro_export]
macro_rules! scenario_tests {
    ($pattern:expr) => {
        fn main() -> ::std::process::ExitCode {
            fn snapshot(name: &str, text: &str) {
                $crate::harness::insta::with_settings!({
                    snapshot_suffix => name,
                    prepend_module_to_snapshot => false,
                }, {
                    $crate::harness::insta::assert_snapshot!("scenario", text);
                });
            }
            $crate::harness::run(env!("CARGO_MANIFEST_DIR"), $pattern, snapshot)
        }
    };
}
