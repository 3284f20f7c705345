//! DHCPv4 under attack, in namespaces of its own: perfdhcp (Kea's load generator) with a
//! million distinct clients at the highest rate it reaches against a /16 pool (churn: short
//! leases, reclamation, lease file cleanup) and against a /28 (exhaustion: Kea's
//! ALLOC_ENGINE_V4_ALLOC_FAIL, no lease beyond the pool), 20,000 garbage and truncated
//! datagrams on 67, and a client DECLINE-ing and RELEASE-ing addresses leased to others
//! (refused: Kea's Lease::belongsToClient). Afterwards busybox udhcpc, a real client, gets a
//! lease, memory grew by less than 64 MiB and the descriptors are back to the baseline. The
//! figures are printed (`--nocapture`); NETBOOTD_FLOOD_SECONDS sets each flood's length (the /16
//! 15 s, the /28 5 s).

mod support;

use std::net::{Ipv4Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use netbootd::wire::dhcp::Message;
use support::netns::{self, Netns};
use support::process::Daemon;

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

/// How long each flood lasts: NETBOOTD_FLOOD_SECONDS, else `default`.
fn seconds(default: u32) -> String {
    std::env::var("NETBOOTD_FLOOD_SECONDS").unwrap_or_else(|_| default.to_string())
}

/// A link between a server and a client namespace, 10.0.0.1/16 and 10.0.0.2/16.
fn link(tag: &str) -> (Netns, Netns) {
    let server = Netns::new(&format!("{tag}s"));
    let client = Netns::new(&format!("{tag}c"));
    netns::veth(
        &server,
        "hdfs0",
        Some("10.0.0.1/16"),
        &client,
        "hdfc0",
        Some("10.0.0.2/16"),
    );
    (server, client)
}

fn config(dir: &Path, pool: &str, lifetime: u32, lfc: u32) -> PathBuf {
    let text = format!(
        r#"{{ "Dhcp4": {{
  "interfaces-config": {{ "interfaces": [ "hdfs0" ] }},
  "lease-database": {{ "type": "memfile", "name": "{leases}", "lfc-interval": {lfc} }},
  "valid-lifetime": {lifetime},
  "decline-probation-period": 3,
  "expired-leases-processing": {{ "reclaim-timer-wait-time": 1, "flush-reclaimed-timer-wait-time": 1, "hold-reclaimed-time": 1 }},
  "subnet4": [ {{ "id": 1, "subnet": "10.0.0.0/16", "pools": [ {{ "pool": "{pool}" }} ],
                 "option-data": [ {{ "name": "routers", "data": "10.0.0.1" }} ] }} ],
  "loggers": [ {{ "name": "kea-dhcp4", "severity": "INFO", "output-options": [ {{ "output": "stdout" }} ] }},
               {{ "name": "kea-dhcp4.leases", "severity": "WARN", "output-options": [ {{ "output": "stdout" }} ] }} ]
}} }}"#,
        leases = dir.join("kea-leases4.csv").display()
    );
    let path = dir.join("kea-dhcp4.conf");
    std::fs::write(&path, text).unwrap();
    path
}

fn start(ns: &Netns, config: &Path) -> Daemon {
    let config = config.to_str().unwrap();
    Daemon::start(ns, &["serve", "--config", config], "DHCP4_STARTED")
}

/// perfdhcp's figures for one exchange ("DISCOVER-OFFER" or "REQUEST-ACK"): sent, received.
fn exchange(text: &str, name: &str) -> (u64, u64) {
    let Some(part) = text.split(&format!("Statistics for: {name}")).nth(1) else {
        return (0, 0);
    };
    let field = |f: &str| -> u64 {
        part.lines()
            .find_map(|l| l.strip_prefix(f))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (field("sent packets:"), field("received packets:"))
}

/// perfdhcp as a relay (giaddr 10.0.0.2), a million distinct clients, at up to `rate`/s for
/// `seconds`. Returns its report.
fn perfdhcp(client: &Netns, rate: u32, seconds: &str) -> String {
    let out = client
        .command("perfdhcp")
        .args([
            "-4",
            "-l",
            "10.0.0.2",
            "-r",
            &rate.to_string(),
            "-p",
            seconds,
        ])
        .args(["-R", "1000000", "10.0.0.1"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn report(name: &str, text: &str, elapsed: Duration) {
    let (d, o) = exchange(text, "DISCOVER-OFFER");
    let (r, a) = exchange(text, "REQUEST-ACK");
    let secs = elapsed.as_secs_f64();
    println!(
        "{name}: DISCOVER {d} ({:.0}/s) OFFER {o}, REQUEST {r} ACK {a} ({:.0}/s) in {secs:.1}s",
        d as f64 / secs,
        a as f64 / secs
    );
}

fn query(kind: u8, mac: [u8; 6], options: &[(u8, &[u8])]) -> Message {
    let mut m = Message {
        xid: 0x4844,
        giaddr: Ipv4Addr::new(10, 0, 0, 2),
        hops: 1,
        ..Message::default()
    };
    m.chaddr[..6].copy_from_slice(&mac);
    m.options.push(53, &[kind]);
    for (code, data) in options {
        m.options.push(*code, data);
    }
    m.options.end();
    m
}

/// Addresses the lease file gives, with their last row's hwaddr and state.
fn leased(dir: &Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(dir.join("kea-leases4.csv")).unwrap_or_default();
    let mut last = std::collections::BTreeMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() > 9 {
            last.insert(
                f[0].to_string(),
                (f[1].to_string(), f[3].to_string(), f[9].to_string()),
            );
        }
    }
    last.into_iter()
        .filter(|(_, (_, valid, _))| valid != "0")
        .map(|(a, (hw, _, state))| (a, hw, state))
        .collect()
}

#[test]
fn a_28_is_exhausted_without_harm_and_others_leases_cannot_be_declined_or_released() {
    if !support::require_tool("perfdhcp") || !netns::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = link("hdx");
    let mut d = start(&server, &config(dir.path(), "10.0.0.16/28", 3600, 0));
    let (rss0, fds0) = (d.kib("VmRSS"), d.fds());

    let start = Instant::now();
    let text = perfdhcp(&client, 100_000, &seconds(5));
    report("/28 exhaustion", &text, start.elapsed());
    let (_, acks) = exchange(&text, "REQUEST-ACK");
    assert!(d.alive());
    let held = leased(dir.path());
    println!(
        "/28: {} leases, {acks} ACKs, {} ALLOC_FAIL lines",
        held.len(),
        d.count("ALLOC_ENGINE_V4_ALLOC_FAIL")
    );
    assert!(held.len() <= 16 && acks <= 16, "{held:?}");
    assert!(!held.is_empty());
    // Kea's warning when the pool is empty (alloc_engine.cc, ALLOC_ENGINE_V4_ALLOC_FAIL).
    assert!(d.count("ALLOC_ENGINE_V4_ALLOC_FAIL") > 0);

    // An attacker's DECLINEs and RELEASEs for every leased address, 50 times over.
    let rows_before = std::fs::read_to_string(dir.path().join("kea-leases4.csv"))
        .unwrap()
        .lines()
        .count();
    let addresses: Vec<Ipv4Addr> = held.iter().map(|(a, _, _)| a.parse().unwrap()).collect();
    let sent = client.enter(move || {
        let s = UdpSocket::bind("10.0.0.2:0").unwrap();
        let mac = [0x02, 0x66, 0x6c, 0x6f, 0x6f, 0x64];
        let mut sent = 0;
        for _ in 0..50 {
            for a in &addresses {
                let decline = query(4, mac, &[(50, &a.octets()), (54, &SERVER.octets())]);
                let mut release = query(7, mac, &[(54, &SERVER.octets())]);
                release.ciaddr = *a;
                for m in [decline, release] {
                    s.send_to(&m.encode(), (SERVER, 67)).unwrap();
                    sent += 1;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        sent
    });
    std::thread::sleep(Duration::from_secs(1));
    let after = leased(dir.path());
    let rows_after = std::fs::read_to_string(dir.path().join("kea-leases4.csv"))
        .unwrap()
        .lines()
        .count();
    let mismatches = d.count("DHCP4_DECLINE_LEASE_MISMATCH");
    println!(
        "decline/release flood: {sent} sent; lease rows {rows_before} -> {rows_after}; \
         {mismatches} DHCP4_DECLINE_LEASE_MISMATCH; RSS {rss0} -> {} KiB; fds {fds0} -> {}",
        d.kib("VmRSS"),
        d.fds()
    );
    assert_eq!(after, held, "no lease changed hands, state or lifetime");
    assert_eq!(rows_after, rows_before, "nothing was written");
    assert!(
        mismatches > 0,
        "a stray DECLINE is a warning, as Kea logs it"
    );
    assert!(d.alive());
}

fn garbage(count: usize) -> (usize, Duration) {
    let s = UdpSocket::bind("10.0.0.2:0").unwrap();
    let mut x = 0x1234_5679_u32;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    let valid = query(1, [2, 0, 0, 0, 0, 9], &[(55, &[1, 3, 6])]).encode();
    let start = Instant::now();
    let mut sent = 0;
    for i in 0..count {
        let d: Vec<u8> = match i % 3 {
            // Truncated DISCOVERs, a valid one with flipped bytes, and noise.
            0 => valid[..(i / 3) % valid.len()].to_vec(),
            1 => {
                let mut v = valid.clone();
                let at = next() as usize % v.len();
                v[at] = next() as u8;
                v
            }
            _ => (0..next() % 700).map(|_| next() as u8).collect(),
        };
        if s.send_to(&d, (SERVER, 67)).is_ok() {
            sent += 1;
        }
        if i % 1000 == 999 {
            // Let the 208 KiB receive queue drain: the point is parsing, not the queue.
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    (sent, start.elapsed())
}

#[test]
fn a_16_under_churn_and_garbage_still_leases_to_a_real_client() {
    if !support::require_tool("perfdhcp") || !support::require_tool("udhcpc") || !netns::available()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = link("hdy");
    // Four-second leases: clients churn through the pool, reclamation and LFC run throughout.
    let mut d = start(
        &server,
        &config(dir.path(), "10.0.1.0 - 10.0.255.254", 4, 2),
    );
    let (rss0, fds0) = (d.kib("VmRSS"), d.fds());

    let start = Instant::now();
    let cpu = d.cpu();
    let text = perfdhcp(&client, 100_000, &seconds(15));
    let took = start.elapsed();
    let busy = (d.cpu() - cpu).as_secs_f64() / took.as_secs_f64();
    report("/16 churn", &text, took);
    let (_, acks) = exchange(&text, "REQUEST-ACK");
    let rate = acks as f64 / took.as_secs_f64();
    // perfdhcp floods DISCOVERs open-loop and sends a REQUEST only for an OFFER it got:
    // with the server saturated (busy near 1.0, one core) and a share f of the datagrams
    // reaching it, ACKs are about f² of the DISCOVERs (ci/bench-dhcp.sh measures the rate
    // below saturation).
    println!(
        "/16: server CPU {:.0}% of one core during the flood",
        busy * 100.0
    );
    // A debug build on a loaded 2-core machine answered 170-210 ACKs/s before the lease file
    // cleanup moved off the lock and frames were taken in batches; an allocation that scanned
    // the pool, or cleanup stalling the engine, falls far below this.
    assert!(rate > 100.0, "{rate:.0} ACKs/s under churn:\n{text}");
    assert!(acks > 1000, "{text}");
    assert!(d.alive());
    let file = dir.path().join("kea-leases4.csv");
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let cleaned = dir.path().join("kea-leases4.csv.1").exists();
    println!(
        "/16: lease file {size} bytes, LFC output present: {cleaned}; RSS {rss0} -> {} KiB (peak {}), fds {fds0} -> {}",
        d.kib("VmRSS"),
        d.kib("VmHWM"),
        d.fds()
    );
    assert!(cleaned, "lease file cleanup ran during the flood");

    let (sent, took) = client.enter(|| garbage(20_000));
    println!("garbage: {sent} datagrams on 67 in {took:?}");
    assert_eq!(sent, 20_000);
    assert!(d.alive());

    let lease = client.udhcpc(dir.path(), "hdfc0");
    println!("udhcpc after the floods: {lease:?}");
    assert!(
        lease.is_some_and(|l| l.starts_with("bound ip=10.0.")),
        "udhcpc got no lease"
    );
    let (hwm, fds) = (d.kib("VmHWM"), d.fds_settle(fds0, Duration::from_secs(10)));
    println!("after: peak RSS {hwm} KiB (baseline {rss0}), fds {fds} (baseline {fds0})");
    assert!(hwm < rss0 + 64 * 1024, "memory grew by less than 64 MiB");
    assert_eq!(fds, fds0, "descriptors back to the baseline");
}

/// 100 SIGHUPs in a second, every other one with a broken config on disk: each reload is
/// taken or refused (the old config serving on), and it still serves a real client after.
#[test]
fn a_sighup_storm_leaves_it_serving() {
    if !support::require_tool("udhcpc") || !netns::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = link("hdh");
    let path = config(dir.path(), "10.0.1.0 - 10.0.1.200", 3600, 0);
    let good = std::fs::read_to_string(&path).unwrap();
    let mut d = start(&server, &path);
    let fds0 = d.fds();
    let pid = nix::unistd::Pid::from_raw(d.pid() as i32);
    let start = Instant::now();
    for i in 0..100 {
        let text = if i % 2 == 0 {
            good.clone()
        } else {
            good.replace("\"subnet4\"", "\"subnet4\" oops")
        };
        std::fs::write(&path, text).unwrap();
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    std::fs::write(&path, &good).unwrap();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    let took = start.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        d.alive(),
        "SIGHUP storm killed it:\n{}",
        d.lines().join("\n")
    );
    let lease = client.udhcpc(dir.path(), "hdfc0");
    println!(
        "SIGHUP storm: 101 signals in {took:?}; {} reloads refused (DHCP4_DYNRECONF_FAIL), {} configs complete; \
         udhcpc {lease:?}; fds {fds0} -> {}",
        d.count("DHCP4_DYNRECONF_FAIL"),
        d.count("DHCP4_CONFIG_COMPLETE"),
        d.fds()
    );
    assert!(lease.is_some_and(|l| l.starts_with("bound ip=10.0.1.")));
    assert!(
        d.count("DHCP4_DYNRECONF_FAIL") > 0,
        "broken configs were refused and said so"
    );
    assert_eq!(d.fds_settle(fds0, Duration::from_secs(5)), fds0);
}
