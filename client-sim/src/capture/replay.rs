//! `bootsim replay`: each client's side of a capture, in order, sent to netbootd in-process
//! (the DHCP engine through `netbootd::dhcp::link`, the TFTP host for transfers), and every
//! answer diffed field by field against the answer the capture holds. Fields that depend on
//! an earlier answer are rewritten from the new answers (the server id and requested address
//! in a REQUEST, the server's address), and the report says what it rewrote. Replay is
//! stateful, not blind: tcpreplay cannot answer a server (appneta/tcpreplay#248).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;

use netbootd::dhcp::link::FrameAnswer;
use netbootd::kea::KeaVersion;
use netbootd::tftp::packet::Packet as Tftp;
use netbootd::wire::dhcp::Message;
use netbootd::wire::frame::{Datagram, BROADCAST_MAC};
use serde::Serialize;

use super::compare::{compare, decided_by, FieldDiff, Status};
use super::flows::{flows, Dhcp, Event, Transfer};
use super::read::{read_file, ReadError};
use crate::net::embedded::{build, ServerSpec, SetupError, SIMULATION_EPOCH};
use crate::net::lan::Server;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Setup(#[from] SetupError),
}

pub struct Request {
    pub capture: PathBuf,
    pub config: PathBuf,
    pub tftp_root: Option<PathBuf>,
    pub kea_version: KeaVersion,
    /// The captured server netbootd stands in for; by default the one at netbootd's address,
    /// else the first that offered a boot file or ProxyDHCP.
    pub replace: Option<Ipv4Addr>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    /// The query's packet number in the capture.
    pub packet: usize,
    pub query: String,
    /// The captured answer from the replaced server: packet number and kind.
    pub captured: Option<(usize, String)>,
    pub replayed: String,
    pub classes: Vec<String>,
    pub rewrites: Vec<String>,
    /// Fields that are not equal (differ, or equal once the server address is mapped).
    pub fields: Vec<FieldDiff>,
    pub differences: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClientReplay {
    pub mac: String,
    pub exchanges: Vec<Exchange>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Replay {
    pub schema: &'static str,
    pub capture: String,
    pub config: String,
    pub server: Ipv4Addr,
    pub replaced: Option<Ipv4Addr>,
    pub clients: Vec<ClientReplay>,
    pub differences: usize,
    pub notes: Vec<String>,
}

fn kind_name(t: Option<u8>) -> String {
    match t {
        Some(1) => "DISCOVER".into(),
        Some(2) => "OFFER".into(),
        Some(3) => "REQUEST".into(),
        Some(4) => "DECLINE".into(),
        Some(5) => "ACK".into(),
        Some(6) => "NAK".into(),
        Some(7) => "RELEASE".into(),
        Some(8) => "INFORM".into(),
        Some(t) => format!("type {t}"),
        None => "BOOTP".into(),
    }
}

fn set_option(m: &mut Message, code: u8, value: &[u8]) {
    m.options.overwrite(code, value);
}

fn ip4(v: &[u8]) -> Option<Ipv4Addr> {
    (v.len() == 4).then(|| Ipv4Addr::new(v[0], v[1], v[2], v[3]))
}

/// The captured server netbootd replaces.
fn replaced_server(events: &[&Event], own: Ipv4Addr) -> Option<Ipv4Addr> {
    let replies: Vec<&Dhcp> = events
        .iter()
        .filter_map(|e| match e {
            Event::Dhcp(d) if !d.from_client() => Some(&**d),
            _ => None,
        })
        .collect();
    if replies.iter().any(|d| d.server() == own) {
        return Some(own);
    }
    replies
        .iter()
        .find(|d| {
            d.boot_file().is_some()
                || d.msg
                    .option(60)
                    .is_some_and(|v| v.starts_with(b"PXEClient"))
        })
        .or(replies.first())
        .map(|d| d.server())
}

struct Session {
    server: Server,
    replaced: Option<Ipv4Addr>,
    /// (captured address from the replaced server, the address netbootd gave instead).
    addresses: Vec<(Ipv4Addr, Ipv4Addr)>,
}

impl Session {
    fn own(&self) -> Ipv4Addr {
        self.server.link.addr
    }

    fn dhcp(&mut self, d: &Dhcp, captured: Option<&Dhcp>) -> Exchange {
        let own = self.own();
        let mut m = d.msg.clone();
        let mut rewrites = Vec::new();
        if let (Some(old), Some(replaced)) = (m.option(54).and_then(|v| ip4(&v)), self.replaced) {
            if old == replaced && old != own {
                set_option(&mut m, 54, &own.octets());
                rewrites.push(format!("option 54 {old} -> {own}"));
            }
        }
        for (old, new) in self.addresses.clone() {
            if old == new {
                continue;
            }
            if m.option(50).and_then(|v| ip4(&v)) == Some(old) {
                set_option(&mut m, 50, &new.octets());
                rewrites.push(format!("option 50 {old} -> {new}"));
            }
            if m.ciaddr == old {
                m.ciaddr = new;
                rewrites.push(format!("ciaddr {old} -> {new}"));
            }
        }
        let mut dst = d.dst;
        if Some(dst.0) == self.replaced && dst.0 != own {
            rewrites.push(format!("destination {} -> {own}", dst.0));
            dst.0 = own;
        }
        let src_mac = m.client_mac();
        let dst_mac = if dst.0 == Ipv4Addr::BROADCAST {
            BROADCAST_MAC
        } else {
            self.server.link.mac
        };
        let frame = Datagram::new(
            src_mac,
            dst_mac,
            SocketAddrV4::new(d.src.0, d.src.1),
            SocketAddrV4::new(dst.0, dst.1),
            m.encode(),
        )
        .to_frame();
        // The capture's own clock, from its first packet: leases age as they did.
        let now = d.at;
        let server = &mut self.server;
        let answer = server.link.answer(&mut server.engine, now, &frame);
        let query = format!("{} xid {:08x}", kind_name(m.message_type()), m.xid);
        let captured_kind = captured.map(|c| (c.packet, kind_name(c.msg.message_type())));
        let mut ex = Exchange {
            packet: d.packet,
            query,
            captured: captured_kind,
            replayed: String::new(),
            classes: Vec::new(),
            rewrites,
            fields: Vec::new(),
            differences: 0,
        };
        match answer {
            Ok(FrameAnswer::Reply { reply, classes, .. }) => {
                let classes = classes.into_names();
                ex.replayed = kind_name(reply.message_type());
                ex.classes = classes.clone();
                if let Some(c) = captured {
                    if !reply.yiaddr.is_unspecified() && !c.msg.yiaddr.is_unspecified() {
                        self.addresses.retain(|a| a.0 != c.msg.yiaddr);
                        self.addresses.push((c.msg.yiaddr, reply.yiaddr));
                    }
                    let mapping = (self.replaced.unwrap_or(own), own);
                    let addr = [reply.yiaddr, reply.giaddr, reply.ciaddr]
                        .into_iter()
                        .find(|a| !a.is_unspecified())
                        .unwrap_or(own);
                    let config = self.server.engine.config();
                    for mut f in compare(&c.msg, &reply, mapping) {
                        if f.status == Status::Equal {
                            continue;
                        }
                        if f.status == Status::Differs {
                            ex.differences += 1;
                            f.decided_by = decided_by(config, &classes, &f.path, addr);
                        }
                        ex.fields.push(f);
                    }
                } else {
                    ex.differences += 1;
                }
            }
            Ok(FrameAnswer::Silent { why, .. }) => {
                ex.replayed = format!("silent ({why:?})");
                ex.differences += usize::from(captured.is_some());
            }
            Ok(FrameAnswer::NotForUs) => {
                ex.replayed = format!("not for netbootd (to {}:{})", dst.0, dst.1);
                ex.differences += usize::from(captured.is_some());
            }
            Ok(FrameAnswer::Malformed(e)) => {
                ex.replayed = format!("malformed: {e}");
                ex.differences += usize::from(captured.is_some());
            }
            Err(e) => {
                ex.replayed = format!("engine error: {e}");
                ex.differences += 1;
            }
        }
        ex
    }

    /// Runs one captured read transfer against the TFTP host: the first answer (OACK, DATA or
    /// ERROR), then, like a client, ACKs to the end, and compares found, size and options.
    fn tftp(&mut self, t: &Transfer) -> Option<Exchange> {
        let own = self.own();
        let host = self.server.tftp.as_mut()?;
        let rrq = Tftp::Rrq {
            filename: t.file.as_bytes().to_vec(),
            mode: "octet".into(),
            options: t.asked.clone(),
        };
        let from = SocketAddr::V4(SocketAddrV4::new(t.client.0, t.client.1));
        let now = t.at;
        let mut out = host.on_datagram(now, from, host.port(), &rrq.encode());
        let mut granted: Option<Vec<(String, String)>> = None;
        let mut error: Option<(u16, String)> = None;
        let mut bytes = 0usize;
        let mut first = None;
        for _ in 0..2_000_000 {
            let Some(o) = out.first().cloned() else { break };
            first.get_or_insert_with(|| o.packet.clone());
            let ack = match (&o.packet, o.packet.data()) {
                (_, Some((block, data))) => {
                    bytes += data.len();
                    let size = granted
                        .as_ref()
                        .and_then(|g| g.iter().find(|(k, _)| k == "blksize"))
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(512);
                    if data.len() < size {
                        let _ =
                            host.on_datagram(now, from, o.src_port, &Tftp::Ack { block }.encode());
                        break;
                    }
                    block
                }
                (Tftp::Oack { options }, _) => {
                    granted = Some(options.clone());
                    if t.is_size_probe() {
                        // End the probe as the firmware does (ERROR 8, firmware.md A.9).
                        let abort = Tftp::Error {
                            code: 8,
                            message: "size probe".into(),
                        };
                        let _ = host.on_datagram(now, from, o.src_port, &abort.encode());
                        break;
                    }
                    0
                }
                (Tftp::Error { code, message }, _) => {
                    error = Some((*code, message.clone()));
                    break;
                }
                _ => break,
            };
            out = host.on_datagram(now, from, o.src_port, &Tftp::Ack { block: ack }.encode());
        }
        let mut fields = Vec::new();
        let mut push = |path: &str, c: String, r: String| {
            if c != r {
                fields.push(FieldDiff {
                    path: path.into(),
                    captured: c,
                    replayed: r,
                    status: Status::Differs,
                    decided_by: None,
                });
            }
        };
        let captured_error = t.error.as_ref().filter(|e| !e.2).map(|e| e.0);
        let found = |e: Option<u16>| match e {
            Some(code) => format!("ERROR {code}"),
            None => "found".into(),
        };
        push(
            "tftp.found",
            found(captured_error),
            found(error.as_ref().map(|e| e.0)),
        );
        let show = |o: &Option<Vec<(String, String)>>| match o {
            Some(o) => o
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
            None => "(no OACK)".into(),
        };
        // A capture that does not show the server's answer cannot be compared further.
        if t.server_port.is_some() {
            push(
                "tftp.options",
                show(&t.granted.as_ref().map(|g| g.1.clone())),
                show(&granted),
            );
            if t.complete() {
                push("tftp.size", t.bytes().to_string(), bytes.to_string());
            }
        }
        let differences = fields.len();
        Some(Exchange {
            packet: t.rrq,
            query: format!(
                "RRQ {}{}",
                t.file,
                if t.is_size_probe() {
                    " (size probe)"
                } else {
                    ""
                }
            ),
            captured: t
                .server_port
                .map(|_| (t.packets.get(1).copied().unwrap_or(t.rrq), "answer".into())),
            replayed: match (&first, &error) {
                (_, Some((code, msg))) => format!("ERROR {code} {msg:?}"),
                (Some(_), None) if t.is_size_probe() => format!("size probe, {}", show(&granted)),
                (Some(_), None) => format!("{bytes} bytes"),
                (None, None) => "silent".into(),
            },
            classes: Vec::new(),
            rewrites: if t.server != own {
                vec![format!("TFTP server {} -> {own}", t.server)]
            } else {
                Vec::new()
            },
            fields,
            differences,
        })
    }
}

/// Replays a capture against a config.
pub fn replay(req: &Request) -> Result<Replay, ReplayError> {
    let capture = read_file(&req.capture)?;
    let server = build(&ServerSpec {
        config: req.config.clone(),
        kea_version: req.kea_version,
        tftp_root: req.tftp_root.clone(),
        server_addr: None,
        epoch: SIMULATION_EPOCH,
    })?;
    let f = flows(&capture);
    let own = server.link.addr;
    let all: Vec<&Event> = f.clients.iter().flat_map(|c| c.events.iter()).collect();
    let replaced = req.replace.or_else(|| replaced_server(&all, own));
    let mut notes = Vec::new();
    if let Some(cut) = &capture.cut {
        notes.push(cut.to_string());
    }
    if req.tftp_root.is_none() && !f.transfers.is_empty() {
        notes.push("no --tftp-root: TFTP transfers are not replayed".into());
    }
    let mut session = Session {
        server,
        replaced,
        addresses: Vec::new(),
    };
    let mut clients = Vec::new();
    for c in &f.clients {
        let Some(mac) = c.mac else { continue };
        let mut exchanges = Vec::new();
        for (i, e) in c.events.iter().enumerate() {
            match e {
                Event::Dhcp(d) if d.from_client() => {
                    // The captured answer: the replaced server's reply to this xid before the
                    // client's next message.
                    let captured = c.events[i + 1..]
                        .iter()
                        .take_while(|n| !matches!(n, Event::Dhcp(n) if n.from_client()))
                        .find_map(|n| match n {
                            Event::Dhcp(r)
                                if r.msg.xid == d.msg.xid && Some(r.server()) == replaced =>
                            {
                                Some(&**r)
                            }
                            _ => None,
                        });
                    let ex = session.dhcp(d, captured);
                    let to_other = d
                        .msg
                        .option(54)
                        .and_then(|v| ip4(&v))
                        .is_some_and(|s| Some(s) != replaced)
                        || (d.dst.0 != Ipv4Addr::BROADCAST && Some(d.dst.0) != replaced);
                    if to_other && captured.is_none() && ex.differences == 0 {
                        continue;
                    }
                    exchanges.push(ex);
                }
                Event::Tftp(t) => {
                    let Some(t) = f.transfers.get(*t) else {
                        continue;
                    };
                    if Some(t.server) == replaced {
                        if let Some(ex) = session.tftp(t) {
                            exchanges.push(ex);
                        }
                    }
                }
                _ => {}
            }
        }
        clients.push(ClientReplay {
            mac: mac.to_string(),
            exchanges,
        });
    }
    let differences = clients
        .iter()
        .flat_map(|c| c.exchanges.iter())
        .map(|e| e.differences)
        .sum();
    Ok(Replay {
        schema: "bootsim.replay/1",
        capture: req.capture.display().to_string(),
        config: req.config.display().to_string(),
        server: own,
        replaced,
        clients,
        differences,
        notes,
    })
}

impl Replay {
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "replay {} against {} (netbootd at {}, standing in for {})",
            self.capture,
            self.config,
            self.server,
            self.replaced
                .map(|r| r.to_string())
                .unwrap_or_else(|| "no captured server".into())
        );
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
        for c in &self.clients {
            let _ = writeln!(out, "client {}", c.mac);
            for e in &c.exchanges {
                let captured = e
                    .captured
                    .as_ref()
                    .map(|(p, k)| format!("{k} (packet {p})"))
                    .unwrap_or_else(|| "no answer".into());
                let mark = if e.differences == 0 { "=" } else { "!" };
                let classes = if e.classes.is_empty() {
                    String::new()
                } else {
                    format!("  classes {}", e.classes.join(", "))
                };
                let _ = writeln!(
                    out,
                    "  {mark} packet {:>4} {}: captured {captured}, replayed {}{classes}",
                    e.packet, e.query, e.replayed
                );
                for r in &e.rewrites {
                    let _ = writeln!(out, "      rewrote {r}");
                }
                for f in &e.fields {
                    let (sign, by) = match f.status {
                        Status::Differs => (
                            "!",
                            f.decided_by
                                .clone()
                                .map(|b| format!("  ({b})"))
                                .unwrap_or_default(),
                        ),
                        _ => ("~", "  (server address mapped)".to_string()),
                    };
                    let _ = writeln!(
                        out,
                        "      {sign} {:<14} {} -> {}{by}",
                        f.path, f.captured, f.replayed
                    );
                }
            }
        }
        let _ = writeln!(out, "{} difference(s)", self.differences);
        out
    }
}
