//! Every scenario in scenarios/ runs here: its expectations must hold, and its transcript
//! (deterministic: seeded ids and faults, virtual time) is snapshotted, so any change in what
//! a firmware does or a server answers shows up as a diff.

use std::path::PathBuf;

use bootsim::scenario::Scenario;
use rstest::rstest;

#[rstest]
fn scenario(#[files("../scenarios/*.toml")] path: PathBuf) {
    let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let run = scenario.run().unwrap_or_else(|e| panic!("{e}"));
    let text = run.render(false);
    assert!(run.passed(), "{text}");
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    insta::with_settings!({ snapshot_suffix => name, prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("scenario", text);
    });
}

#[test]
fn a_broken_scenario_file_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "name = \"x\"\n[server]\nconfig = 3\n").unwrap();
    let err = Scenario::load(&file).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "{}: TOML parse error at line 3, column 10",
            file.display()
        )),
        "{err}"
    );
}
