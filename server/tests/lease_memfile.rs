//! The memfile lease store against Kea's own tools and against kill -9: kea-lfc (Kea's lease
//! file cleanup, C++ code we did not write) must read what we write and we must read what it
//! writes; a writer killed at random moments loses no lease it reported as stored.

mod lease_support;
mod support;

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use lease_support::{lease, Store};

#[test]
fn leases_are_replayed_and_deletes_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kea-leases4.csv");
    {
        let (mut store, _) = Store::open(&path).unwrap();
        for n in 1..=10 {
            store.upsert(lease(n)).unwrap();
        }
        let mut renewed = lease(4);
        renewed.cltt += 900;
        store.upsert(renewed).unwrap();
        store.delete(lease(5).address).unwrap();
    }
    let (store, report) = Store::open(&path).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(store.len(), 9);
    assert!(store.get(lease(5).address).is_none());
    assert_eq!(
        store.get(lease(4).address).unwrap().cltt,
        lease(4).cltt + 900
    );
    assert_eq!(store.get(lease(3).address).unwrap().hostname, "node3,rack");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 1 + 12);
    assert!(
        text.contains(",0,1700000005,1,0,0,,0,"),
        "the delete row: {text}"
    );
}

#[test]
fn a_torn_last_line_is_reported_with_its_line_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kea-leases4.csv");
    {
        let (mut store, _) = Store::open(&path).unwrap();
        store.upsert(lease(1)).unwrap();
    }
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("10.0.0.2,52:54:00:00:00");
    std::fs::write(&path, text).unwrap();
    let (mut store, report) = Store::open(&path).unwrap();
    assert_eq!(store.len(), 1);
    assert_eq!(report.errors.len(), 1);
    assert!(report.errors[0].ends_with("kea-leases4.csv:line 3: 2 fields, the header has 11"));
    store.upsert(lease(3)).unwrap();
    drop(store);
    let (store, report) = Store::open(&path).unwrap();
    assert_eq!(store.len(), 2, "{:?}", report.errors);
}

#[test]
fn compaction_leaves_keas_files_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kea-leases4.csv");
    let (mut store, _) = Store::open(&path).unwrap();
    for n in 1..=20 {
        store.upsert(lease(n)).unwrap();
        store.upsert(lease(n)).unwrap();
    }
    store.compact().unwrap();
    store.upsert(lease(21)).unwrap();
    store.delete(lease(1).address).unwrap();
    let previous = std::fs::read_to_string(dir.path().join("kea-leases4.csv.1")).unwrap();
    assert_eq!(previous.lines().count(), 21, "header and one row per lease");
    assert!(!dir.path().join("kea-leases4.csv.2").exists());
    drop(store);
    let (store, _) = Store::open(&path).unwrap();
    assert_eq!(store.len(), 20);
    assert!(store.get(lease(21).address).is_some());
    assert!(store.get(lease(1).address).is_none());
}

/// kea-lfc (Kea's own cleanup program) merges our `.1`/`.2` files; we then load its output.
#[test]
fn kea_lfc_reads_our_file_and_we_read_its_output() {
    if !support::require_tool("kea-lfc") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kea-leases4.csv");
    {
        let (mut store, _) = Store::open(&path).unwrap();
        for n in 1..=50 {
            store.upsert(lease(n)).unwrap();
        }
        store.delete(lease(7).address).unwrap();
    }
    let with = |s: &str| dir.path().join(format!("kea-leases4.csv{s}"));
    std::fs::rename(&path, with(".2")).unwrap();
    let config = dir.path().join("lfc.conf");
    std::fs::write(&config, "{}").unwrap();
    let status = Command::new("kea-lfc")
        .arg("-4")
        .arg("-x")
        .arg(with(".1"))
        .arg("-i")
        .arg(with(".2"))
        .arg("-o")
        .arg(with(".output"))
        .arg("-f")
        .arg(with(".completed"))
        .arg("-p")
        .arg(with(".pid"))
        .arg("-c")
        .arg(&config)
        .env("KEA_LOCKFILE_DIR", dir.path())
        .env("KEA_PIDFILE_DIR", dir.path())
        .status()
        .expect("kea-lfc runs");
    assert!(status.success());
    let written_by_kea = std::fs::read_to_string(with(".1")).expect("kea-lfc wrote .1");
    assert_eq!(written_by_kea.lines().count(), 1 + 49, "{written_by_kea}");
    let (store, report) = Store::open(&path).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.files, vec![with(".1")]);
    assert_eq!(store.len(), 49);
    for n in (1..=50).filter(|n| *n != 7) {
        assert_eq!(store.get(lease(n).address), Some(&lease(n)), "lease {n}");
    }
}

#[test]
fn kill_9_at_random_moments_loses_no_acknowledged_lease() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kea-leases4.csv");
    let mut acked: Vec<Ipv4Addr> = Vec::new();
    for round in 0..8u64 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lease-crash-writer"))
            .arg(&path)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let wanted = 200 + round * 137;
        let mut seen = 0;
        while let Some(Ok(line)) = lines.next() {
            if let Some(a) = line.strip_prefix("acked ") {
                acked.push(a.parse().unwrap());
                seen += 1;
                if seen == wanted {
                    break;
                }
            }
        }
        // SIGKILL by PID: the process gets no chance to flush or clean up.
        child.kill().unwrap();
        child.wait().unwrap();
        let (store, _) = Store::open(&path).unwrap();
        for a in &acked {
            assert!(
                store.get(*a).is_some(),
                "round {round}: acknowledged {a} lost"
            );
        }
    }
    assert!(acked.len() > 2000);
}

/// Two servers on one lease file would interleave their rows: the second is refused, naming
/// the process that holds it; once the first is gone the file opens again.
#[test]
fn a_second_server_on_the_same_lease_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kea-leases4.csv");
    let first = Store::open(&path).unwrap();
    let second = Store::open(&path).err().expect("refused");
    assert_eq!(
        second.to_string(),
        format!(
            "{}: in use by another process (pid {}); only one server may own a lease file",
            path.display(),
            std::process::id()
        )
    );
    drop(first);
    assert!(Store::open(&path).is_ok());
}
