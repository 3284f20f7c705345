//! Leasing load for the durability tests (kill -9 loops, power cuts): perfdhcp, Kea's own
//! load generator, leasing as a relay from a client namespace; a packet socket on the
//! client's interface that records every DHCPACK that reached it (the client's view, not
//! the server's log); and the checks that follow a crash: each acknowledged lease is in the
//! lease file with its client, and netbootd offers each client the address it was given.

use std::collections::HashMap;
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netbootd::dhcp::lease::{Durability, Header, LeaseRow, Memfile};
use netbootd::wire::dhcp::Message;
use netbootd::wire::frame::Datagram;
use netbootd::wire::packet_socket::{Direction, PacketSocket, Protocol};

use super::netns::{self, Netns};

pub const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The client namespace's address: perfdhcp's relay address (giaddr).
pub const RELAY: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const SERVER_IF: &str = "dus0";
pub const CLIENT_IF: &str = "duc0";

/// A server and a client namespace joined by a veth, 10.0.0.1/16 and 10.0.0.2/16.
pub fn link(tag: &str) -> (Netns, Netns) {
    let server = Netns::new(&format!("du{tag}s"));
    let client = Netns::new(&format!("du{tag}c"));
    let (s, c) = (format!("{SERVER}/16"), format!("{RELAY}/16"));
    netns::veth(&server, SERVER_IF, Some(&s), &client, CLIENT_IF, Some(&c));
    (server, client)
}

/// A Kea config leasing 10.0.1.0-10.0.255.254 for an hour, the lease file at `leases`, no
/// lease file cleanup (the file is read after each crash as it was written).
pub fn config(dir: &Path, leases: &Path) -> PathBuf {
    let text = format!(
        r#"{{ "Dhcp4": {{
  "interfaces-config": {{ "interfaces": [ "{SERVER_IF}" ] }},
  "lease-database": {{ "type": "memfile", "name": "{}", "lfc-interval": 0 }},
  "valid-lifetime": 3600,
  "subnet4": [ {{ "id": 1, "subnet": "10.0.0.0/16", "pools": [ {{ "pool": "10.0.1.0 - 10.0.255.254" }} ] }} ],
  "loggers": [ {{ "name": "kea-dhcp4", "severity": "INFO", "output-options": [ {{ "output": "stdout" }} ] }},
               {{ "name": "kea-dhcp4.leases", "severity": "WARN", "output-options": [ {{ "output": "stdout" }} ] }} ]
}} }}"#,
        leases.display()
    );
    let path = dir.join("kea-dhcp4.conf");
    std::fs::write(&path, text).unwrap();
    path
}

/// perfdhcp relaying for up to a million distinct clients at `rate` DORAs per second until
/// killed (by PID, [`Load::stop`]).
pub struct Load {
    child: Child,
}

impl Load {
    pub fn start(client: &Netns, rate: u32) -> Load {
        let child = client
            .command("perfdhcp")
            .args(["-4", "-l", &RELAY.to_string(), "-r", &rate.to_string()])
            .args(["-p", "3600", "-R", "1000000", &SERVER.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("perfdhcp starts");
        Load { child }
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One DHCPACK as the client received it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ack {
    pub mac: [u8; 6],
    pub address: Ipv4Addr,
}

/// Records every DHCPACK arriving on the client's interface, from a thread inside the client
/// namespace.
pub struct AckRecorder {
    acks: Arc<Mutex<Vec<Ack>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AckRecorder {
    pub fn start(client: &Netns) -> AckRecorder {
        let acks = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let path = format!("/var/run/netns/{}", client.name);
        let thread = {
            let (acks, stop) = (acks.clone(), stop.clone());
            std::thread::spawn(move || {
                let ns = File::open(&path).expect("namespace file");
                nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
                let socket = PacketSocket::open(CLIENT_IF, Protocol::Ipv4).expect("packet socket");
                ready_tx.send(()).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let Some((frame, Direction::Inbound)) =
                        socket.receive(Duration::from_millis(50))
                    else {
                        continue;
                    };
                    if let Some(ack) = ack(&frame) {
                        acks.lock().unwrap().push(ack);
                    }
                }
            })
        };
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("ACK recorder ready");
        AckRecorder {
            acks,
            stop,
            thread: Some(thread),
        }
    }

    /// The ACKs received so far.
    pub fn acks(&self) -> Vec<Ack> {
        self.acks.lock().unwrap().clone()
    }

    pub fn stop(mut self) -> Vec<Ack> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("ACK recorder");
        }
        self.acks()
    }
}

/// A DHCPACK to the relay in `frame`, if it is one.
fn ack(frame: &[u8]) -> Option<Ack> {
    let datagram = Datagram::from_frame(frame).ok()??;
    if datagram.src.port() != 67 {
        return None;
    }
    let m = Message::decode(&datagram.payload).ok()?;
    if m.op != 2 || m.message_type() != Some(5) {
        return None;
    }
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&m.chaddr[..6]);
    Some(Ack {
        mac,
        address: m.yiaddr,
    })
}

/// Each client's last acknowledged address. Panics when one address was acknowledged to two
/// clients: within the hour's lifetime that happens only when a lease was lost.
pub fn holders(acks: &[Ack]) -> HashMap<[u8; 6], Ipv4Addr> {
    let mut by_address: HashMap<Ipv4Addr, [u8; 6]> = HashMap::new();
    let mut by_mac = HashMap::new();
    for a in acks {
        if let Some(other) = by_address.insert(a.address, a.mac) {
            assert_eq!(
                other, a.mac,
                "{} acknowledged to {:02x?} and to {:02x?}",
                a.address, other, a.mac
            );
        }
        by_mac.insert(a.mac, a.address);
    }
    by_mac
}

/// The lease file read as it grows, with netbootd's own row decoder: each call reads only
/// the rows appended since the last one, so a check after every kill costs the new rows
/// (a whole-file load per kill would dominate a hundred-kill test). Later rows replace
/// earlier ones and a zero lifetime deletes, as loading does; a torn last line is left
/// until its newline arrives (netbootd adds one on restart) and then counted as torn.
pub struct FileFollower {
    path: PathBuf,
    offset: u64,
    line: usize,
    header: Option<Header>,
    holders: HashMap<Ipv4Addr, Vec<u8>>,
    /// Rows that did not decode (torn by a kill): file:line and the error.
    pub torn: Vec<String>,
}

impl FileFollower {
    pub fn new(path: &Path) -> FileFollower {
        FileFollower {
            path: path.to_path_buf(),
            offset: 0,
            line: 0,
            header: None,
            holders: HashMap::new(),
            torn: Vec::new(),
        }
    }

    /// Reads the rows appended since the last call.
    pub fn catch_up(&mut self) {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut file) = File::open(&self.path) else {
            return;
        };
        file.seek(SeekFrom::Start(self.offset)).unwrap();
        let mut text = Vec::new();
        file.read_to_end(&mut text).unwrap();
        let Some(end) = text.iter().rposition(|b| *b == b'\n') else {
            return;
        };
        self.offset += end as u64 + 1;
        for raw in text[..=end].split(|b| *b == b'\n') {
            if raw.is_empty() {
                continue;
            }
            self.line += 1;
            let row = String::from_utf8_lossy(raw);
            let Some(header) = &self.header else {
                self.header = Some(Header::parse(&row).expect("lease file header"));
                continue;
            };
            match LeaseRow::decode(header, self.line, &row) {
                Ok(lease) if lease.valid_lifetime == 0 => {
                    self.holders.remove(&lease.address);
                }
                Ok(lease) => {
                    self.holders.insert(lease.address, lease.hwaddr);
                }
                Err(e) => self.torn.push(format!("{}:{e}", self.path.display())),
            }
        }
    }

    /// The acknowledged leases the file does not give to their client.
    pub fn missing<'a>(&self, acks: impl IntoIterator<Item = &'a Ack>) -> Vec<Ack> {
        acks.into_iter()
            .filter(|a| self.holders.get(&a.address).map(Vec::as_slice) != Some(&a.mac[..]))
            .copied()
            .collect()
    }
}

/// The acknowledged leases missing from the lease file at `path` (or held there by another
/// client), read from a copy so the file, its lock and a torn last line are left for the
/// server to find. Panics on rows netbootd could not read back.
pub fn missing_from_file(path: &Path, acks: &HashMap<[u8; 6], Ipv4Addr>) -> Vec<Ack> {
    if !path.exists() {
        return acks
            .iter()
            .map(|(mac, address)| Ack {
                mac: *mac,
                address: *address,
            })
            .collect();
    }
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("kea-leases4.csv");
    std::fs::copy(path, &copy).unwrap();
    let (_, store, report) = Memfile::open(&copy, Durability::Write).unwrap();
    assert!(
        report.errors.len() <= 1,
        "at most a torn last row: {:?}",
        report.errors
    );
    let mut missing: Vec<Ack> = acks
        .iter()
        .filter(|(mac, address)| {
            store
                .get(**address)
                .is_none_or(|lease| lease.hwaddr.as_slice() != mac.as_slice())
        })
        .map(|(mac, address)| Ack {
            mac: *mac,
            address: *address,
        })
        .collect();
    missing.sort_by_key(|a| a.address);
    missing
}

/// Relayed DISCOVERs for every client in `acks`, pipelined from the relay's port 67 in the
/// client namespace (perfdhcp must be stopped): the clients offered another address than the
/// one they were acknowledged, or none after three tries.
pub fn not_offered_back(client: &Netns, acks: &HashMap<[u8; 6], Ipv4Addr>) -> Vec<Ack> {
    let acks: Vec<Ack> = acks
        .iter()
        .map(|(mac, address)| Ack {
            mac: *mac,
            address: *address,
        })
        .collect();
    client.enter(move || {
        let socket = UdpSocket::bind(SocketAddrV4::new(RELAY, 67)).expect("relay port 67");
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let mut offered: HashMap<u32, Ipv4Addr> = HashMap::new();
        for _ in 0..3 {
            for chunk in acks
                .iter()
                .enumerate()
                .filter(|(xid, _)| !offered.contains_key(&(*xid as u32)))
                .collect::<Vec<_>>()
                .chunks(64)
            {
                for (xid, a) in chunk {
                    let m = discover(*xid as u32, a.mac);
                    socket
                        .send_to(&m.encode(), SocketAddrV4::new(SERVER, 67))
                        .unwrap();
                }
                let deadline = Instant::now() + Duration::from_millis(500);
                let mut buf = [0u8; 1500];
                while chunk
                    .iter()
                    .any(|(x, _)| !offered.contains_key(&(*x as u32)))
                    && Instant::now() < deadline
                {
                    let Ok((n, _)) = socket.recv_from(&mut buf) else {
                        continue;
                    };
                    if let Ok(r) = Message::decode(&buf[..n]) {
                        if r.op == 2 && r.message_type() == Some(2) {
                            offered.insert(r.xid, r.yiaddr);
                        }
                    }
                }
            }
        }
        acks.iter()
            .enumerate()
            .filter(|(xid, a)| offered.get(&(*xid as u32)) != Some(&a.address))
            .map(|(_, a)| *a)
            .collect()
    })
}

/// A relayed DHCPDISCOVER from `mac`, as perfdhcp sends them (no client identifier).
fn discover(xid: u32, mac: [u8; 6]) -> Message {
    let mut m = Message {
        xid,
        hops: 1,
        giaddr: RELAY,
        ..Message::default()
    };
    m.chaddr[..6].copy_from_slice(&mac);
    m.options.push(53, &[1]);
    m.options.end();
    m
}
