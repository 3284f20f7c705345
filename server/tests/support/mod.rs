//! Helpers shared by the integration tests: real peers (Kea) and the CI rule for missing tools.
#![allow(dead_code)]

pub mod lease_load;
pub mod netns;
pub mod process;
pub mod tftp;

use std::path::Path;
use std::process::Command;

/// True when a real peer the test needs is on PATH. Under `CI=true` a missing tool is a test
/// failure (the test command installs it); on a developer machine the test says it skips.
pub fn require_tool(tool: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if found {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{tool} is required under CI=true but is not installed (ci/setup.sh installs it)");
    }
    eprintln!("skipping: {tool} is not installed (run ci/setup.sh as root)");
    false
}

/// What `kea-dhcp4 -t` said about a file.
#[derive(Debug, Clone, PartialEq)]
pub struct KeaVerdict {
    pub valid: bool,
    /// The first `file:line.col` (parser) or `file:line:col` (later stages) in the error, as
    /// `(line, col)`.
    pub first_position: Option<(u32, u32)>,
    /// The error line Kea printed on stderr, if any.
    pub error: Option<String>,
    /// Positions of the parser's warnings, in order, as `(line, col)`.
    pub warnings: Vec<(u32, u32)>,
}

/// Runs a `ci/` script that prints a path (`ci/seed-root.sh`: the guide's TFTP root with
/// Debian's real binaries) and returns that path; the script's stderr on failure.
pub fn script_path(script: &Path) -> std::path::PathBuf {
    let out = Command::new("bash").arg(script).output().unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// Runs real `kea-dhcp4 -t` on `path`.
pub fn kea_check(path: &Path) -> KeaVerdict {
    let out = Command::new("kea-dhcp4")
        .arg("-t")
        .arg(path)
        .output()
        .expect("kea-dhcp4 runs");
    verdict(&out)
}

/// Reads what `kea-dhcp4 -t` (or `netbootd check`, which words it the same) printed: the
/// error line on stderr and the parser's warnings (Kea logs them on stdout, netbootd on
/// stderr, so both streams are read).
pub fn verdict(out: &std::process::Output) -> KeaVerdict {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let error = stderr
        .lines()
        .find(|l| {
            l.starts_with("Syntax check failed with: ") || l.starts_with("Error encountered: ")
        })
        .map(|l| {
            l.trim_start_matches("Syntax check failed with: ")
                .trim_start_matches("Error encountered: ")
                .to_string()
        });
    let warnings = stdout
        .lines()
        .chain(stderr.lines())
        .filter(|l| l.contains("DHCP4_CONFIG_SYNTAX_WARNING"))
        .filter_map(|l| l.split_once("syntax warning: "))
        .filter_map(|(_, text)| first_position(text))
        .collect();
    KeaVerdict {
        valid: out.status.success(),
        first_position: error.as_deref().and_then(first_position),
        error,
        warnings,
    }
}

/// The first position in a Kea message: `name:L.C` (bison) or `name:L:C` (Element).
/// A name is whatever precedes `:L.C`/`:L:C` up to a space or `(`.
pub fn first_position(text: &str) -> Option<(u32, u32)> {
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices(':') {
        let rest = &text[i + 1..];
        let line: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if line.is_empty() || i == 0 || bytes[i - 1] == b' ' {
            continue;
        }
        let after = &rest[line.len()..];
        if !after.starts_with(['.', ':']) {
            continue;
        }
        let col: String = after[1..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        if col.is_empty() {
            continue;
        }
        return Some((line.parse().ok()?, col.parse().ok()?));
    }
    None
}

#[test]
fn first_position_reads_both_formats() {
    assert_eq!(
        first_position("k.conf:62.9-24: got unexpected keyword"),
        Some((62, 9))
    );
    assert_eq!(
        first_position("bad thing (/a/b.json:73:21) (/a/b.json:73:5)"),
        Some((73, 21))
    );
    assert_eq!(first_position("no position here: at all"), None);
}
