//! From packets to per-client events: DHCP messages keyed by `chaddr` (relayed ones too, with
//! their `giaddr`), TFTP transfers keyed by the client's address and port and joined to a
//! client through the address its DHCP gave it, ICMP errors about the client's datagrams.
//! TFTP transfer identifiers follow RFC 1350 section 4: the server answers an RRQ sent to
//! port 69 from a new port, learnt from the first reply to the client's port.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

use netbootd::tftp::packet::Packet as Tftp;
use netbootd::time::Instant;
use netbootd::wire::dhcp::Message;
use netbootd::wire::MacAddr;

use super::read::{Capture, Transport};

/// One DHCP message and where it went.
#[derive(Debug, Clone)]
pub struct Dhcp {
    pub packet: usize,
    pub at: Instant,
    pub msg: Message,
    pub src: (Ipv4Addr, u16),
    pub dst: (Ipv4Addr, u16),
    pub ttl: u8,
}

impl Dhcp {
    pub fn from_client(&self) -> bool {
        self.msg.op == 1
    }
    /// The server that sent or is addressed by this message: option 54, else the IP source.
    pub fn server(&self) -> Ipv4Addr {
        self.msg
            .option(54)
            .filter(|v| v.len() == 4)
            .map(|v| Ipv4Addr::new(v[0], v[1], v[2], v[3]))
            .unwrap_or(self.src.0)
    }
    /// The boot file: `file`, else option 67.
    pub fn boot_file(&self) -> Option<String> {
        self.msg
            .file_name()
            .filter(|f| !f.is_empty())
            .or_else(|| {
                self.msg.option(67).map(|v| {
                    String::from_utf8_lossy(&v)
                        .trim_end_matches('\0')
                        .to_string()
                })
            })
            .filter(|f| !f.is_empty())
    }
}

/// ICMP destination unreachable about a UDP datagram a client sent.
#[derive(Debug, Clone)]
pub struct Unreachable {
    pub packet: usize,
    pub at: Instant,
    /// Who sent the ICMP error.
    pub from: Ipv4Addr,
    pub code: u8,
    /// The datagram it quotes: destination address and port.
    pub to: (Ipv4Addr, u16),
}

/// One TFTP read transfer, from its RRQ to its last packet.
#[derive(Debug, Clone)]
pub struct Transfer {
    pub client: (Ipv4Addr, u16),
    pub server: Ipv4Addr,
    pub server_port: Option<u16>,
    pub file: String,
    pub rrq: usize,
    pub at: Instant,
    pub last_at: Instant,
    pub rrq_repeats: Vec<usize>,
    pub asked: Vec<(String, String)>,
    pub granted: Option<(usize, Vec<(String, String)>)>,
    /// Absolute block number (wraps counted) → (first packet, bytes).
    pub blocks: BTreeMap<u32, (usize, Vec<u8>)>,
    /// DATA sent again: (block, packet).
    pub data_resent: Vec<(u32, usize)>,
    /// Last ACK: (block, packet), and ACKs sent again.
    pub last_ack: Option<(u32, usize)>,
    pub acks_resent: Vec<(u32, usize)>,
    /// ERROR: (code, message, sent by the client, packet).
    pub error: Option<(u16, String, bool, usize)>,
    pub packets: Vec<usize>,
    wraps: u32,
    last_block_raw: u16,
}

impl Transfer {
    pub fn blksize(&self) -> usize {
        self.granted
            .as_ref()
            .and_then(|(_, o)| o.iter().find(|(k, _)| k == "blksize"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(512)
    }
    pub fn bytes(&self) -> usize {
        self.blocks.values().map(|(_, d)| d.len()).sum()
    }
    /// The last block was short: the file was sent whole (RFC 1350 section 6).
    pub fn complete(&self) -> bool {
        self.blocks
            .values()
            .next_back()
            .is_some_and(|(_, d)| d.len() < self.blksize())
            && self.error.is_none()
    }
    pub fn content(&self) -> Vec<u8> {
        self.blocks
            .values()
            .flat_map(|(_, d)| d.iter().copied())
            .collect()
    }
    /// The PXE size probe: tsize asked, answered, then aborted by the client before any data
    /// (EDK2 `PxeBcTftpGetFileSize` sends ERROR 8; BIOS ROMs ERROR 0: firmware.md A.9).
    pub fn is_size_probe(&self) -> bool {
        self.blocks.is_empty()
            && self.asked.iter().any(|(k, _)| k == "tsize")
            && matches!(self.error, Some((0 | 8, _, true, _)))
    }
    fn absolute(&mut self, block: u16) -> u32 {
        if block < 100 && self.last_block_raw > 65_000 {
            self.wraps += 1;
        }
        self.last_block_raw = block;
        self.wraps * 65_536 + u32::from(block)
    }
}

/// What one client did, in capture order.
#[derive(Debug, Clone)]
pub enum Event {
    Dhcp(Box<Dhcp>),
    Tftp(usize),
    Unreachable(Unreachable),
}

#[derive(Debug, Clone, Default)]
pub struct Client {
    pub mac: Option<MacAddr>,
    /// Shown when the client is known only by address.
    pub label: String,
    pub uuid: Option<String>,
    pub client_id: Option<String>,
    pub relay: Option<String>,
    pub vlans: Vec<u16>,
    pub events: Vec<Event>,
}

/// Every client of a capture with its events, and the transfers they refer to.
#[derive(Debug, Default)]
pub struct Flows {
    pub clients: Vec<Client>,
    pub transfers: Vec<Transfer>,
    /// Packets read but not understood (a DHCP message cut by the snapshot length…).
    pub notes: Vec<String>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// SMBIOS UUID of option 97 (type 0 + 16 bytes, the first three fields little-endian as EDK2
/// and iPXE send them: firmware.md A.2).
fn uuid_text(v: &[u8]) -> Option<String> {
    if v.len() != 17 || v[0] != 0 {
        return None;
    }
    let g = &v[1..];
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{}-{}",
        g[3],
        g[2],
        g[1],
        g[0],
        g[5],
        g[4],
        g[7],
        g[6],
        hex(&g[8..10]),
        hex(&g[10..])
    ))
}

impl Flows {
    fn client_for_mac(&mut self, mac: MacAddr) -> usize {
        if let Some(i) = self.clients.iter().position(|c| c.mac == Some(mac)) {
            return i;
        }
        self.clients.push(Client {
            mac: Some(mac),
            label: mac.to_string(),
            ..Client::default()
        });
        self.clients.len() - 1
    }

    fn client_for_ip(&mut self, ip: Ipv4Addr, by_ip: &HashMap<Ipv4Addr, usize>) -> usize {
        if let Some(i) = by_ip.get(&ip) {
            return *i;
        }
        let label = format!("ip {ip}");
        if let Some(i) = self.clients.iter().position(|c| c.label == label) {
            return i;
        }
        self.clients.push(Client {
            label,
            ..Client::default()
        });
        self.clients.len() - 1
    }
}

/// Splits a capture into clients.
pub fn flows(capture: &Capture) -> Flows {
    let mut f = Flows::default();
    let mut by_ip: HashMap<Ipv4Addr, usize> = HashMap::new();
    // (client ip, client port) → transfer, the latest one wins.
    let mut by_tid: HashMap<(Ipv4Addr, u16), usize> = HashMap::new();
    for p in &capture.packets {
        match &p.ip.body {
            Transport::Udp {
                src_port,
                dst_port,
                payload,
            } => {
                let (sp, dp) = (*src_port, *dst_port);
                let dhcp_ports = [67, 68, 4011];
                if dhcp_ports.contains(&sp) && dhcp_ports.contains(&dp) {
                    match Message::decode(payload) {
                        Ok(msg) if (msg.op == 1 || msg.op == 2) && msg.hlen == 6 => {
                            let i = f.client_for_mac(msg.client_mac());
                            let c = &mut f.clients[i];
                            if msg.op == 1 {
                                if c.uuid.is_none() {
                                    c.uuid = msg.option(97).and_then(|v| uuid_text(&v));
                                }
                                if c.client_id.is_none() {
                                    c.client_id = msg.option(61).map(|v| hex(&v));
                                }
                                if c.vlans.is_empty() {
                                    c.vlans = p.vlans.clone();
                                }
                                if !msg.ciaddr.is_unspecified() {
                                    by_ip.insert(msg.ciaddr, i);
                                }
                                if !p.ip.src.is_unspecified() && msg.giaddr.is_unspecified() {
                                    by_ip.insert(p.ip.src, i);
                                }
                            } else if msg.message_type() == Some(5) && !msg.yiaddr.is_unspecified()
                            {
                                by_ip.insert(msg.yiaddr, i);
                            }
                            if !msg.giaddr.is_unspecified() && c.relay.is_none() {
                                c.relay =
                                    Some(format!("relayed by {} (hops {})", msg.giaddr, msg.hops));
                            }
                            c.events.push(Event::Dhcp(Box::new(Dhcp {
                                packet: p.number,
                                at: p.at,
                                msg,
                                src: (p.ip.src, sp),
                                dst: (p.ip.dst, dp),
                                ttl: p.ip.ttl,
                            })));
                        }
                        Ok(_) => {}
                        Err(e) => f.notes.push(format!(
                            "packet {}: DHCP on udp {sp}->{dp} unreadable{}: {e}",
                            p.number,
                            if p.snapped {
                                " (cut by the snapshot length)"
                            } else {
                                ""
                            }
                        )),
                    }
                    continue;
                }
                let Ok(tftp) = Tftp::decode(payload) else {
                    if dp == 69 {
                        f.notes
                            .push(format!("packet {}: unreadable TFTP request", p.number));
                    }
                    continue;
                };
                let client_side = (p.ip.src, sp);
                if let (
                    69,
                    Tftp::Rrq {
                        filename, options, ..
                    },
                ) = (dp, &tftp)
                {
                    // An RRQ sent again from the same port is a retransmission, not a new transfer.
                    if let Some(&t) = by_tid.get(&client_side) {
                        let tr = &mut f.transfers[t];
                        if tr.blocks.is_empty()
                            && tr.error.is_none()
                            && tr.file.as_bytes() == &filename[..]
                        {
                            tr.rrq_repeats.push(p.number);
                            tr.packets.push(p.number);
                            continue;
                        }
                    }
                    let t = f.transfers.len();
                    f.transfers.push(Transfer {
                        client: client_side,
                        server: p.ip.dst,
                        file: String::from_utf8_lossy(filename).into_owned(),
                        rrq: p.number,
                        at: p.at,
                        asked: options.clone(),
                        last_at: p.at,
                        rrq_repeats: Vec::new(),
                        server_port: None,
                        granted: None,
                        blocks: BTreeMap::new(),
                        data_resent: Vec::new(),
                        last_ack: None,
                        acks_resent: Vec::new(),
                        error: None,
                        packets: vec![p.number],
                        wraps: 0,
                        last_block_raw: 0,
                    });
                    by_tid.insert(client_side, t);
                    let i = match by_ip.get(&p.ip.src) {
                        Some(i) => *i,
                        None => match p.src_mac {
                            // No DHCP seen for this address: the frame's sender is the client.
                            Some(m) => f.client_for_mac(m),
                            _ => f.client_for_ip(p.ip.src, &by_ip),
                        },
                    };
                    if f.clients[i].vlans.is_empty() {
                        f.clients[i].vlans = p.vlans.clone();
                    }
                    f.clients[i].events.push(Event::Tftp(t));
                    continue;
                }
                // A reply from the server to the client's port, or the client to the server's TID.
                let (t, from_client) = if let Some(&t) = by_tid.get(&(p.ip.dst, dp)) {
                    let tr = &f.transfers[t];
                    if tr.server_port.is_some_and(|s| s != sp) {
                        continue;
                    }
                    (t, false)
                } else if let Some(&t) = by_tid.get(&client_side) {
                    if f.transfers[t].server_port != Some(dp) {
                        continue;
                    }
                    (t, true)
                } else {
                    continue;
                };
                let tr = &mut f.transfers[t];
                if !from_client && tr.server_port.is_none() {
                    tr.server_port = Some(sp);
                }
                tr.packets.push(p.number);
                tr.last_at = p.at;
                match tftp {
                    Tftp::Oack { options } if !from_client => {
                        tr.granted.get_or_insert((p.number, options));
                    }
                    Tftp::Data { block, data } if !from_client => {
                        let abs = tr.absolute(block);
                        match tr.blocks.entry(abs) {
                            std::collections::btree_map::Entry::Occupied(_) => {
                                tr.data_resent.push((abs, p.number))
                            }
                            std::collections::btree_map::Entry::Vacant(v) => {
                                v.insert((p.number, data));
                            }
                        }
                    }
                    Tftp::Ack { block } if from_client => {
                        let abs = tr.wraps * 65_536 + u32::from(block);
                        if tr.last_ack.is_some_and(|(b, _)| b == abs) {
                            tr.acks_resent.push((abs, p.number));
                        }
                        tr.last_ack = Some((abs, p.number));
                    }
                    Tftp::Error { code, message } => {
                        tr.error
                            .get_or_insert((code, message, from_client, p.number));
                    }
                    _ => {}
                }
            }
            Transport::Icmp {
                kind: 3,
                code,
                quoted,
            } => {
                // The quoted datagram: its IPv4 header, then the UDP header (RFC 792).
                let ihl = usize::from(quoted.first().copied().unwrap_or(0) & 0x0f) * 4;
                if quoted.len() < ihl + 4 || ihl < 20 || quoted[9] != 17 {
                    continue;
                }
                let src = Ipv4Addr::new(quoted[12], quoted[13], quoted[14], quoted[15]);
                let dst = Ipv4Addr::new(quoted[16], quoted[17], quoted[18], quoted[19]);
                let port = u16::from_be_bytes([quoted[ihl + 2], quoted[ihl + 3]]);
                let i = f.client_for_ip(src, &by_ip);
                f.clients[i].events.push(Event::Unreachable(Unreachable {
                    packet: p.number,
                    at: p.at,
                    from: p.ip.src,
                    code: *code,
                    to: (dst, port),
                }));
            }
            _ => {}
        }
    }
    f
}
