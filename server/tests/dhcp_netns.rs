//! netbootd serving DHCPv4 on a veth inside network namespaces this test creates, to real
//! clients: busybox udhcpc gets a lease with the guide's config, renews it by unicast, and the
//! lease file (Kea's CSV) shows both.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::netns::{self, Netns};

/// A child process killed (SIGKILL, by PID) when the test ends, whatever happens.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The guide's kea-dhcp4.conf with its interface renamed to the test's veth.
fn guide_on(dir: &Path, iface: &str) -> PathBuf {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/seed/kea-dhcp4.conf");
    let text = std::fs::read_to_string(seed)
        .unwrap()
        .replace("\"eth1\"", &format!("\"{iface}\""));
    let path = dir.join("kea-dhcp4.conf");
    std::fs::write(&path, text).unwrap();
    path
}

fn start_netbootd(ns: &Netns, config: &Path, leases: &Path, extra: &[&str]) -> Guard {
    let mut child = ns
        .command(env!("CARGO_BIN_EXE_netbootd"))
        .args(["serve", "--config"])
        .arg(config)
        .arg("--lease-file")
        .arg(leases)
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("netbootd starts");
    // Wait for Kea's DHCP4_STARTED on stdout (the guide's logger), then keep draining it.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            eprintln!("netbootd: {line}");
            if line.contains("DHCP4_STARTED") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("netbootd serving");
    Guard(child)
}

fn udhcpc_script(dir: &Path) -> PathBuf {
    let script = dir.join("udhcpc.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\n\
         echo \"$1 ip=$ip subnet=$subnet router=$router lease=$lease siaddr=$siaddr boot_file=$boot_file\" >> \"$(dirname \"$0\")/events\"\n\
         if [ \"$1\" = bound ]; then ip addr add \"$ip/28\" dev \"$interface\"; fi\n",
    )
    .unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .unwrap();
    script
}

fn wait_for(path: &Path, needle: &str, count: usize) -> String {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.matches(needle).count() >= count {
            return text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no {needle} in {text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn udhcpc_gets_a_lease_and_renews_it() {
    if !support::require_tool("udhcpc") || !netns::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Netns::new("s");
    let client = Netns::new("c");
    netns::veth(
        &server,
        "nbs0",
        Some("192.168.1.1/28"),
        &client,
        "nbc0",
        None,
    );
    let leases = dir.path().join("kea-leases4.csv");
    // The guide's config names no dhcp-socket-type: Kea's default, raw (AF_PACKET).
    let pcap = dir.path().join("dhcp.pcap");
    let _netbootd = start_netbootd(
        &server,
        &guide_on(dir.path(), "nbs0"),
        &leases,
        &["--pcap", pcap.to_str().unwrap()],
    );

    let script = udhcpc_script(dir.path());
    let udhcpc = client
        .command("udhcpc")
        .args(["-f", "-i", "nbc0", "-t", "10", "-T", "1", "-s"])
        .arg(&script)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let udhcpc = Guard(udhcpc);
    let events = dir.path().join("events");
    let text = wait_for(&events, "bound ip=192.168.1.2", 1);
    assert!(
        text.contains("bound ip=192.168.1.2 subnet=255.255.255.240 router=192.168.1.1 lease=3600"),
        "{text}"
    );
    // SIGUSR1 makes udhcpc renew: a unicast REQUEST with ciaddr (RFC 2131 4.3.2 RENEWING).
    let pid = nix::unistd::Pid::from_raw(udhcpc.0.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGUSR1).unwrap();
    let text = wait_for(&events, "renew ip=192.168.1.2", 1);
    assert!(
        text.contains("renew ip=192.168.1.2 subnet=255.255.255.240"),
        "{text}"
    );

    // udhcpc asks without the broadcast flag, so over AF_PACKET the OFFER goes to yiaddr at
    // chaddr (RFC 2131 4.1), not to 255.255.255.255.
    let frames = netbootd::wire::pcap::read_capture(std::fs::File::open(&pcap).unwrap()).unwrap();
    let offer = frames
        .iter()
        .filter_map(|c| {
            netbootd::wire::frame::Datagram::from_frame(&c.frame)
                .ok()
                .flatten()
        })
        .find(|d| {
            d.src.port() == 67
                && netbootd::wire::dhcp::Message::decode(&d.payload)
                    .is_ok_and(|m| m.message_type() == Some(2))
        })
        .expect("an OFFER in the capture");
    let chaddr = netbootd::wire::dhcp::Message::decode(&offer.payload)
        .unwrap()
        .chaddr;
    assert_eq!(offer.dst.to_string(), "192.168.1.2:68");
    assert_eq!(&offer.dst_mac.octets()[..], &chaddr[..6]);

    let csv = std::fs::read_to_string(&leases).unwrap();
    let rows: Vec<&str> = csv
        .lines()
        .filter(|l| l.starts_with("192.168.1.2,"))
        .collect();
    assert!(rows.len() >= 2, "the first ACK and the renewal: {csv}");
    assert!(rows[0].contains(",3600,"), "{csv}");
    let expire = |row: &str| row.split(',').nth(4).unwrap().parse::<u64>().unwrap();
    assert!(expire(rows[rows.len() - 1]) >= expire(rows[0]), "{csv}");
}

/// perfdhcp (Kea's load generator) as a relay (giaddr 10.0.0.2) at a fixed rate: every
/// 4-way exchange completes.
#[test]
fn perfdhcp_relay_mode_has_no_drops() {
    if !support::require_tool("perfdhcp") || !netns::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Netns::new("s");
    let client = Netns::new("c");
    netns::veth(
        &server,
        "nbps",
        Some("10.0.0.1/24"),
        &client,
        "nbpc",
        Some("10.0.0.2/24"),
    );
    let config = dir.path().join("kea-dhcp4.conf");
    std::fs::write(
        &config,
        r#"{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "nbps" ], "dhcp-socket-type": "udp" },
  "valid-lifetime": 600,
  "subnet4": [ { "id": 7, "subnet": "10.0.0.0/8", "pools": [ { "pool": "10.1.0.0 - 10.1.255.255" } ] } ]
} }"#,
    )
    .unwrap();
    let leases = dir.path().join("kea-leases4.csv");
    let _netbootd = start_netbootd(&server, &config, &leases, &[]);
    let out = client
        .command("perfdhcp")
        .args([
            "-4", "-l", "10.0.0.2", "-r", "200", "-p", "3", "-R", "1000000", "-W", "1000000",
            "10.0.0.1",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let ack = text
        .split("Statistics for: REQUEST-ACK")
        .nth(1)
        .unwrap_or_else(|| panic!("no REQUEST-ACK statistics: {text}"));
    let field = |name: &str| -> u64 {
        ack.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing: {ack}"))
    };
    let (sent, received) = (field("sent packets:"), field("received packets:"));
    assert!(sent >= 400, "{text}");
    assert_eq!(sent, received, "{text}");
    assert_eq!(field("drops:"), 0);
    let csv = std::fs::read_to_string(&leases).unwrap();
    assert_eq!(csv.lines().count() as u64, 1 + received, "one row per ACK");
    assert!(csv.lines().nth(1).unwrap().contains(",600,"), "{csv}");
}
