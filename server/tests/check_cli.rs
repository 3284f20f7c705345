//! `netbootd check` as CI uses it: exit codes, Kea-worded stderr, the summary of a valid
//! config and the --json report, and the keyword set of each --kea-version.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn netbootd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netbootd"))
        .args(args)
        .output()
        .expect("netbootd runs")
}

fn seed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/seed/kea-dhcp4.conf")
}

/// The guide's config served on `lo` (an interface every machine has), with the logger key
/// spelled for `version`.
fn seed_on_lo(dir: &Path, logger_key: &str) -> PathBuf {
    let text = std::fs::read_to_string(seed()).expect("seed");
    let text = text
        .replace("\"eth1\"", "\"lo\"")
        .replace("output-options", logger_key);
    let path = dir.join("kea-dhcp4.conf");
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn the_guides_config_is_refused_by_kea_2_2_at_output_options() {
    let out = netbootd(&["check", "--kea-version", "2.2", seed().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let error = stderr
        .lines()
        .find(|l| l.starts_with("Syntax check failed with: "))
        .expect("Kea's error line");
    assert!(
        error.ends_with(
            "kea-dhcp4.conf:62.9-24: got unexpected keyword \"output-options\" in loggers map."
        ),
        "{error}"
    );
    assert_eq!(stderr.matches("Extraneous comma").count(), 4, "{stderr}");
    assert!(out.stdout.is_empty());
}

/// Kea 2.6 added `output-options` (dhcp4_lexer.ll at Kea-2.6.0), so the guide's file gets past
/// the parser and stops only at its interface `eth1`, which this machine lacks.
#[test]
fn kea_2_6_accepts_output_options() {
    let dir = tempfile::tempdir().unwrap();
    let path = seed_on_lo(dir.path(), "output-options");
    let out = netbootd(&["check", "--kea-version", "2.6", path.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = netbootd(&["check", "--kea-version", "2.4", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_valid_config_gets_a_summary_of_what_each_class_hands_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = seed_on_lo(dir.path(), "output_options");
    let out = netbootd(&["check", "--kea-version", "2.2", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout));
}

#[test]
fn json_report_for_ci() {
    let dir = tempfile::tempdir().unwrap();
    let path = seed_on_lo(dir.path(), "output_options");
    let out = netbootd(&[
        "check",
        "--json",
        "--kea-version",
        "2.2",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["valid"], true);
    assert_eq!(report["warnings"].as_array().unwrap().len(), 5);
    assert_eq!(report["warnings"][0]["span"]["start"]["line"], 35);
    let classes = report["summary"]["classes"].as_array().unwrap();
    assert_eq!(classes[0]["boot_file_name"], "refind.pxe");
    assert_eq!(classes[1]["boot_file_name"], "ipxe.efi");
    assert_eq!(classes[1]["next_server"], "192.168.1.1");

    let out = netbootd(&[
        "check",
        "--json",
        "--kea-version",
        "2.2",
        seed().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["valid"], false);
    assert_eq!(report["error"]["span"]["start"]["line"], 62);
    assert_eq!(report["error"]["span"]["start"]["col"], 9);
}

#[test]
fn unreadable_file_exits_2_and_bad_version_is_a_usage_error() {
    let out = netbootd(&["check", "/nonexistent/kea-dhcp4.conf"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/kea-dhcp4.conf"));
    let out = netbootd(&["check", "--kea-version", "1.9", seed().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}
