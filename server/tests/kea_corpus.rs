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
