//! Faults at run time: the DHCP interface going down and coming back (Kea re-detects it; its
//! sockets are retried every service-sockets-retry-wait-time), the TFTP interface doing the
//! same under a download in flight, and the TFTP root vanishing
//! and coming back (the new root is served). netbootd must live through both and say what it
//! cannot serve.

mod support;

use std::time::Duration;

use support::netns::{self, Netns};
use support::process::Daemon;

#[test]
fn the_interface_going_down_and_up_leaves_dhcp_serving() {
    if !netns::available() || !support::require_tool("udhcpc") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kea-dhcp4.conf");
    std::fs::write(
        &config,
        format!(
            r#"{{ "Dhcp4": {{
  "interfaces-config": {{ "interfaces": [ "hdif0" ], "service-sockets-retry-wait-time": 1000 }},
  "lease-database": {{ "type": "memfile", "name": "{}" }},
  "subnet4": [ {{ "id": 1, "subnet": "192.168.7.0/24", "pools": [ {{ "pool": "192.168.7.100 - 192.168.7.120" }} ] }} ],
  "loggers": [ {{ "name": "kea-dhcp4", "severity": "INFO", "output-options": [ {{ "output": "stdout" }} ] }} ]
}} }}"#,
            dir.path().join("leases.csv").display()
        ),
    )
    .unwrap();
    let server = Netns::new("hdifs");
    let client = Netns::new("hdifc");
    netns::veth(
        &server,
        "hdif0",
        Some("192.168.7.1/24"),
        &client,
        "hdic0",
        None,
    );
    let mut d = Daemon::start(
        &server,
        &["serve", "--config", config.to_str().unwrap()],
        "DHCP4_STARTED",
    );
    assert!(
        client.udhcpc(dir.path(), "hdic0").is_some(),
        "a lease before"
    );
    server.run_ip(&["link", "set", "hdif0", "down"]);
    std::thread::sleep(Duration::from_secs(2));
    server.run_ip(&["link", "set", "hdif0", "up"]);
    server.run_ip(&["addr", "replace", "192.168.7.1/24", "dev", "hdif0"]);
    std::thread::sleep(Duration::from_secs(2));
    assert!(d.alive(), "{}", d.lines().join("\n"));
    let after = client.udhcpc(dir.path(), "hdic0");
    println!(
        "interface down 2 s then up: alive {}, udhcpc after: {after:?}",
        d.alive()
    );
    assert!(
        after.is_some_and(|l| l.starts_with("bound ip=192.168.7.1")),
        "{}",
        d.lines().join("\n")
    );
}

#[test]
fn a_vanished_tftp_root_is_refused_not_fatal() {
    if !netns::available() || !support::require_tool("curl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("a.txt"), b"one").unwrap();
    let ns = Netns::new("hdvr");
    let mut d = Daemon::start(
        &ns,
        &[
            "serve",
            "--tftp-root",
            root.to_str().unwrap(),
            "--tftp-address",
            "127.0.0.1:69",
        ],
        "serving TFTP from",
    );
    let get = |name: &str| {
        let out = ns
            .command("curl")
            .args(["-s", "--max-time", "5", &format!("tftp://127.0.0.1/{name}")])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    assert_eq!(get("a.txt"), (Some(0), "one".to_string()));
    std::fs::remove_dir_all(&root).unwrap();
    let gone = get("a.txt");
    assert!(d.alive());
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("a.txt"), b"two").unwrap();
    let back = get("a.txt");
    println!(
        "TFTP root removed: curl {gone:?}; recreated: curl {back:?}; alive {}",
        d.alive()
    );
    assert_eq!(
        gone,
        (Some(68), String::new()),
        "File not found from a removed root"
    );
    assert_eq!(
        back,
        (Some(0), "two".to_string()),
        "the recreated root is served"
    );
    assert!(d.alive());
}

/// The TFTP side of an interface going down and coming back, with its address removed and
/// added again meanwhile: a download in flight (tftp-hpa's client, lock-step at 512-byte
/// blocks) stalls for the outage, netbootd retransmits the unacknowledged block (as
/// tftpd-hpa does on its timeout) and the file arrives byte-exact; a new download after the
/// outage is served too. The listening socket is bound to the interface's address, as
/// TFTP_ADDRESS binds it; Linux keeps a socket bound to an address that goes away, so nothing
/// needs re-opening (Kea re-opens its DHCP sockets instead, service-sockets-retry-wait-time).
#[test]
fn the_interface_going_down_and_up_mid_transfer_leaves_tftp_serving() {
    if !netns::available() || !support::require_tool("tftp") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    // 16 MiB of a pattern no block repeats: a block delivered twice or skipped shows.
    let big: Vec<u8> = (0..16u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8 ^ (i >> 9) as u8)
        .collect();
    std::fs::write(root.join("big.bin"), &big).unwrap();
    let server = Netns::new("duifs");
    let client = Netns::new("duifc");
    netns::veth(
        &server,
        "duif0",
        Some("192.168.8.1/24"),
        &client,
        "duic0",
        Some("192.168.8.2/24"),
    );
    let mut d = Daemon::start(
        &server,
        &[
            "serve",
            "--tftp-root",
            root.to_str().unwrap(),
            "--tftp-address",
            "192.168.8.1:69",
        ],
        "serving TFTP from",
    );
    let get = |out: &std::path::Path| {
        client
            .command("tftp")
            .args(["-m", "binary", "192.168.8.1", "-c", "get", "big.bin"])
            .arg(out)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let during = dir.path().join("during.bin");
    let started = std::time::Instant::now();
    let mut transfer = get(&during);
    std::thread::sleep(Duration::from_millis(300));
    let in_flight = transfer.try_wait().unwrap().is_none();
    let got_before = std::fs::metadata(&during).map(|m| m.len()).unwrap_or(0);
    server.run_ip(&["link", "set", "duif0", "down"]);
    server.run_ip(&["addr", "del", "192.168.8.1/24", "dev", "duif0"]);
    std::thread::sleep(Duration::from_millis(1500));
    server.run_ip(&["addr", "add", "192.168.8.1/24", "dev", "duif0"]);
    server.run_ip(&["link", "set", "duif0", "up"]);
    let status = transfer.wait().unwrap();
    let took = started.elapsed();
    let after = dir.path().join("after.bin");
    let second = get(&after).wait().unwrap();
    println!(
        "TFTP, interface down 1.5 s (address removed) after {got_before} bytes: the transfer \
         in flight ended {status} after {:.1} s; a new transfer: {second}; alive {}",
        took.as_secs_f64(),
        d.alive()
    );
    assert!(
        in_flight && got_before < big.len() as u64,
        "the transfer was not in flight when the link went down (make the file larger)"
    );
    assert!(status.success(), "the transfer across the outage failed");
    assert!(
        took > Duration::from_millis(1500),
        "it waited out the outage"
    );
    assert!(
        std::fs::read(&during).unwrap() == big,
        "byte-exact across the outage"
    );
    assert!(second.success());
    assert!(std::fs::read(&after).unwrap() == big, "byte-exact after");
    assert!(d.alive(), "{}", d.lines().join("\n"));
}
