//! The public corpus (../shared/corpus/kea-configs: 40 real configs from public repositories,
//! with the verdicts of Debian 12's `kea-dhcp4 -t`, Kea 2.2) checked by real Kea and by
//! `netbootd check --kea-version 2.2`, side by side, in a network namespace that holds an
//! interface for every name the configs use (the corpus's IFACES, as its README says Kea was
//! run). Both must agree on every file: verdict, first error position and error text, and the
//! positions of the parser's warnings. The corpus is read where it lies, never copied; where
//! it is absent the test says so and skips.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::netns::Netns;

fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("NETBOOT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/kea-configs")
        });
    if dir.join("VERDICTS.tsv").is_file() {
        return Some(dir);
    }
    eprintln!(
        "skipping: the public corpus {} is absent (it lives beside the project, never in it)",
        dir.display()
    );
    None
}

/// A namespace with one veth per name of IFACES (no addresses, as Kea was judged).
fn namespace_with_interfaces(corpus: &Path) -> Netns {
    let names = std::fs::read_to_string(corpus.join("IFACES")).expect("IFACES");
    let ns = Netns::new("corpus");
    for (i, name) in names
        .lines()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .enumerate()
    {
        let peer = format!("cp{i}");
        ns.run_ip(&["link", "add", name, "type", "veth", "peer", "name", &peer]);
        ns.run_ip(&["link", "set", name, "up"]);
        ns.run_ip(&["link", "set", &peer, "up"]);
    }
    ns
}

/// `kea22_rc` of VERDICTS.tsv, by file name.
fn recorded_verdicts(corpus: &Path) -> Vec<(String, bool)> {
    let text = std::fs::read_to_string(corpus.join("VERDICTS.tsv")).expect("VERDICTS.tsv");
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let mut cols = l.split('\t');
            Some((cols.next()?.to_string(), cols.next()? == "0"))
        })
        .collect()
}

fn run_in(ns: &Netns, dir: &Path, program: &str, args: &[&str]) -> support::KeaVerdict {
    let mut cmd: Command = ns.command(program);
    let out = cmd
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    support::verdict(&out)
}

#[test]
fn netbootd_check_agrees_with_kea_2_2_on_every_public_config() {
    let Some(dir) = corpus() else { return };
    if !support::require_tool("kea-dhcp4") || !support::netns::available() {
        return;
    }
    let ns = namespace_with_interfaces(&dir);
    let recorded = recorded_verdicts(&dir);
    assert!(recorded.len() >= 40, "only {} verdicts", recorded.len());
    let mut differences = Vec::new();
    for (file, valid) in &recorded {
        let kea = run_in(&ns, &dir, "kea-dhcp4", &["-t", file]);
        assert_eq!(
            kea.valid, *valid,
            "{file}: kea-dhcp4 here disagrees with VERDICTS.tsv, so the namespace is not the \
             one the corpus was judged in: {:?}",
            kea.error
        );
        let ours = run_in(
            &ns,
            &dir,
            env!("CARGO_BIN_EXE_netbootd"),
            &["check", "--kea-version", "2.2", file],
        );
        if kea != ours {
            differences.push(format!("{file}:\n  kea:  {kea:?}\n  ours: {ours:?}"));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} configs differ:\n{}",
        differences.len(),
        recorded.len(),
        differences.join("\n")
    );
}

/// Every `: value` of a config (string, integer or boolean), as byte ranges.
fn value_spans(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for (i, _) in text.match_indices(':') {
        let mut j = i + 1;
        while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
            j += 1;
        }
        let start = j;
        match b.get(j) {
            Some(b'"') => {
                j += 1;
                while j < b.len() && b[j] != b'"' && b[j] != b'\n' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                if b.get(j) == Some(&b'"') {
                    out.push((start, j + 1));
                }
            }
            Some(b'-' | b'0'..=b'9') => {
                j += 1;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                out.push((start, j));
            }
            _ if text[j..].starts_with("true") => out.push((start, j + 4)),
            _ if text[j..].starts_with("false") => out.push((start, j + 5)),
            _ => {}
        }
    }
    out
}

/// Seeded mutants of the configs Kea 2.2 accepts: one value replaced by a wrong one (a bad
/// address, a negative or too large integer, an empty string, a wrong type), judged by real
/// Kea and by netbootd in the corpus's namespace. This is how the range, option and
/// identifier checks netbootd lacked were found; it keeps them found.
#[test]
fn netbootd_check_agrees_with_kea_2_2_on_mutants_of_the_valid_configs() {
    let Some(dir) = corpus() else { return };
    if !support::require_tool("kea-dhcp4") || !support::netns::available() {
        return;
    }
    let ns = namespace_with_interfaces(&dir);
    let work = tempfile::tempdir().expect("tempdir");
    let texts: Vec<(String, String)> = recorded_verdicts(&dir)
        .into_iter()
        .filter(|(_, valid)| *valid)
        .map(|(f, _)| {
            let text = std::fs::read_to_string(dir.join(&f)).expect("corpus file");
            (f, text)
        })
        .collect();
    const REPLACEMENTS: [&str; 9] = [
        "\"zz\"",
        "-1",
        "\"10.0.0.300\"",
        "\"\"",
        "0",
        "true",
        "\"1.2.3.4\"",
        "4294967296",
        "\"00:11\"",
    ];
    // xorshift64: the same mutants on every run.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut differences = Vec::new();
    for m in 0..200 {
        let (file, text) = &texts[next(texts.len())];
        let spans = value_spans(text);
        let (a, b) = spans[next(spans.len())];
        let with = REPLACEMENTS[next(REPLACEMENTS.len())];
        let name = format!("m{m}.json");
        std::fs::write(
            work.path().join(&name),
            format!("{}{with}{}", &text[..a], &text[b..]),
        )
        .expect("write mutant");
        let kea = run_in(&ns, work.path(), "kea-dhcp4", &["-t", &name]);
        let ours = run_in(
            &ns,
            work.path(),
            env!("CARGO_BIN_EXE_netbootd"),
            &["check", "--kea-version", "2.2", &name],
        );
        if kea != ours {
            eprintln!(
                "{name} ({file}: {} -> {with})\n  kea:  {kea:?}\n  ours: {ours:?}",
                &text[a..b]
            );
            differences.push(format!("{name} ({file}: {} -> {with})", &text[a..b]));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of 200 mutants differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
