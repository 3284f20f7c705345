//! kill -9 during traffic: netbootd is killed at random moments while clients run DORA over a
//! veth, and restarted; every lease a client saw acknowledged must be in the lease file with
//! that client, and no address may have been acknowledged to two clients. Then real Kea 2.2
//! starts on the same lease file and offers a returning client its address: Kea reads what we
//! wrote.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use netbootd::dhcp::lease::{Durability, Memfile};
use netbootd::wire::dhcp::Message;
use support::netns::{self, Netns};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

fn config(dir: &Path, logger_key: &str) -> PathBuf {
    let text = format!(
        r#"{{ "Dhcp4": {{
  "interfaces-config": {{ "interfaces": [ "nbks" ] }},
  "lease-database": {{ "type": "memfile", "name": "{}", "lfc-interval": 0 }},
  "valid-lifetime": 3600,
  "subnet4": [ {{ "id": 1, "subnet": "10.0.0.0/24", "pools": [ {{ "pool": "10.0.0.10 - 10.0.0.250" }} ] }} ],
  "loggers": [ {{ "name": "kea-dhcp4", "severity": "INFO", "{logger_key}": [ {{ "output": "stdout" }} ] }} ]
}} }}"#,
        dir.join("kea-leases4.csv").display()
    );
    let path = dir.join(format!("{logger_key}.json"));
    std::fs::write(&path, text).unwrap();
    path
}

fn start(ns: &Netns, program: &str, args: &[&str], dir: &Path, ready: &str) -> Child {
    let mut child = ns
        .command(program)
        .args(args)
        .env("KEA_LOCKFILE_DIR", dir)
        .env("KEA_PIDFILE_DIR", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let (tx, ready) = (tx.clone(), ready.to_string());
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if line.contains(&ready) {
                    let _ = tx.send(());
                }
            }
        });
    }
    rx.recv_timeout(Duration::from_secs(20))
        .expect("server ready");
    child
}

fn message(kind: u8, mac: u16, extra: &[(u8, Vec<u8>)]) -> Message {
    let mut m = Message {
        xid: u32::from(mac) << 8 | u32::from(kind),
        flags: 0x8000,
        ..Message::default()
    };
    m.chaddr[..6].copy_from_slice(&[0x52, 0x54, 0, 0x77, (mac >> 8) as u8, mac as u8]);
    m.options.push(53, &[kind]);
    for (code, data) in extra {
        m.options.push(*code, data);
    }
    m.options.end();
    m
}

fn client_socket() -> UdpSocket {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket.set_broadcast(true).unwrap();
    socket.bind_device(Some(b"nbkc")).unwrap();
    socket
        .bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68).into())
        .unwrap();
    let socket: UdpSocket = socket.into();
    socket
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    socket
}

fn ask(socket: &UdpSocket, m: &Message, want: u8) -> Option<Message> {
    socket
        .send_to(&m.encode(), SocketAddrV4::new(Ipv4Addr::BROADCAST, 67))
        .ok()?;
    let mut buf = [0u8; 1500];
    loop {
        let (n, _) = socket.recv_from(&mut buf).ok()?;
        let r = Message::decode(&buf[..n]).ok()?;
        if r.op == 2 && r.xid >> 8 == m.xid >> 8 && r.message_type() == Some(want) {
            return Some(r);
        }
    }
}

/// DORA for client `mac`; the address on ACK.
fn dora(socket: &UdpSocket, mac: u16) -> Option<Ipv4Addr> {
    let offer = ask(socket, &message(1, mac, &[]), 2)?;
    let req = message(
        3,
        mac,
        &[
            (50, offer.yiaddr.octets().to_vec()),
            (54, SERVER.octets().to_vec()),
        ],
    );
    ask(socket, &req, 5).map(|ack| ack.yiaddr)
}

#[test]
fn kill_9_during_traffic_loses_no_acknowledged_lease_and_kea_reads_the_file() {
    if !support::require_tool("kea-dhcp4") || !netns::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Netns::new("s");
    let client = Netns::new("c");
    netns::veth(&server, "nbks", Some("10.0.0.1/24"), &client, "nbkc", None);
    let ours = config(dir.path(), "output-options");
    let netbootd = env!("CARGO_BIN_EXE_netbootd");
    let args = ["serve", "--config", ours.to_str().unwrap()];

    let stop = Arc::new(AtomicBool::new(false));
    let acked = {
        let stop = stop.clone();
        let name = client.name.clone();
        std::thread::spawn(move || {
            let f = std::fs::File::open(format!("/var/run/netns/{name}")).unwrap();
            nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let socket = client_socket();
            let mut acked: Vec<(u16, Ipv4Addr)> = Vec::new();
            let mut mac = 1u16;
            while !stop.load(Ordering::Relaxed) && mac < 200 {
                if let Some(addr) = dora(&socket, mac) {
                    acked.push((mac, addr));
                    mac += 1;
                }
            }
            acked
        })
    };
    for round in 0..6u64 {
        let mut child = start(&server, netbootd, &args, dir.path(), "serving DHCPv4");
        std::thread::sleep(Duration::from_millis(150 + (round * 97) % 400));
        child.kill().unwrap(); // SIGKILL by PID
        child.wait().unwrap();
    }
    let mut child = start(&server, netbootd, &args, dir.path(), "serving DHCPv4");
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let acked = acked.join().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        acked.len() >= 20,
        "only {} leases acknowledged",
        acked.len()
    );

    let (_, store, report) =
        Memfile::open(&dir.path().join("kea-leases4.csv"), Durability::Write).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let mut holder: HashMap<Ipv4Addr, u16> = HashMap::new();
    for (mac, addr) in &acked {
        if let Some(other) = holder.insert(*addr, *mac) {
            panic!("{addr} acknowledged to clients {other} and {mac}");
        }
        let lease = store
            .get(*addr)
            .unwrap_or_else(|| panic!("acknowledged {addr} lost"));
        assert_eq!(lease.hwaddr[4..], [(mac >> 8) as u8, *mac as u8]);
    }

    // Kea 2.2 on our file: a returning client is offered the address it holds.
    let kea_conf = config(dir.path(), "output_options");
    let mut kea = start(
        &server,
        "kea-dhcp4",
        &["-c", kea_conf.to_str().unwrap()],
        dir.path(),
        "DHCP4_STARTED",
    );
    let (mac, addr) = acked[acked.len() / 2];
    let offered = client.enter(move || {
        let socket = client_socket();
        ask(&socket, &message(1, mac, &[]), 2).map(|o| o.yiaddr)
    });
    kea.kill().unwrap();
    kea.wait().unwrap();
    assert_eq!(offered, Some(addr), "Kea read our lease file");
}
