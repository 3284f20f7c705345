//! EDK2's TFTP: the size probe, then the download (NetworkPkg/Mtftp4Dxe, driven by
//! `PxeBcMtftp4GetFileSize` and `PxeBcMtftp4ReadFile` in UefiPxeBcDxe/PxeBcMtftp.c;
//! firmware.md A.9, OBSERVED against dnsmasq).
//!
//! - Probe: RRQ `file octet tsize 0 blksize 1468 windowsize 4`; on the OACK, ERROR 8 "User
//!   aborted the transfer" to the server's port. No tsize in the OACK → PXE-E53; an ERROR →
//!   PXE-E23; DATA instead of an OACK → ERROR 4 "User aborted download" and PXE-E99.
//! - Download from the next source port: RRQ `file octet blksize 1468 windowsize 4` (no tsize),
//!   ACK 0 after the OACK, then one ACK per window (`Mtftp4RrqHandleData`: when
//!   `WindowSize == TotalBlock - AckedBlock` or on the last block), an immediate ACK of the last
//!   good block when one arrives out of order. An OACK with options not asked for, or larger
//!   values than asked, is refused with ERROR 8 "Malformatted OACK packet" (`Mtftp4RrqOackValid`).
//! - Retransmission (`Mtftp4OnTimerTick`): the last packet again every 4 s, 6 tries, then
//!   PXE-E18.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use netbootd::time::Instant;
use netbootd::wire::frame::Datagram;
use netbootd::wire::MacAddr;
use netbootd::wire::Payload;

use super::PxeError;
use crate::content::{Content, ContentBuilder};

/// `PXEBC_MTFTP_TIMEOUT`, `PXEBC_MTFTP_RETRIES`.
const TIMEOUT: Duration = Duration::from_secs(4);
const TRIES: u32 = 6;
/// `Ip4MaxPacketSize - 8 - 4` on a 1500-byte MTU.
pub const BLOCK_SIZE: u16 = 1468;
/// `PcdPxeTftpWindowSize` default.
pub const WINDOW_SIZE: u16 = 4;

const OP_RRQ: u16 = 1;
const OP_DATA: u16 = 3;
const OP_ACK: u16 = 4;
const OP_ERROR: u16 = 5;
const OP_OACK: u16 = 6;

/// Where the transfer goes and from where.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub mac: MacAddr,
    pub station: Ipv4Addr,
    pub server: Ipv4Addr,
    pub server_mac: MacAddr,
    /// The source port of the probe; the download uses the next one (OBSERVED 1568, 1569).
    pub first_port: u16,
    /// The server's TFTP port: 69 on a real network.
    pub server_port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Sent { at: Instant, what: SentPacket },
    Console { at: Instant, line: String },
}

/// A packet the phase sent, as the transcript names it: kept as a value and written as text
/// only when read (a download sends an ACK per window; a storm has millions of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentPacket {
    Probe,
    Rrq,
    Ack(u16),
    /// The last good block acknowledged again after one out of order.
    Resync,
    Retransmission,
    Error(u16),
}

impl std::fmt::Display for SentPacket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SentPacket::Probe => f.write_str("RRQ (size probe)"),
            SentPacket::Rrq => f.write_str("RRQ"),
            SentPacket::Ack(block) => write!(f, "ACK {block}"),
            SentPacket::Resync => f.write_str("ACK (resync)"),
            SentPacket::Retransmission => f.write_str("retransmission"),
            SentPacket::Error(code) => write!(f, "ERROR {code}"),
        }
    }
}

#[derive(Debug)]
enum Stage {
    Probe,
    Download {
        window: u16,
        block_size: usize,
        /// Blocks received in order so far (64-bit: Mtftp4 follows rollover).
        received: u64,
        acked: u64,
        oacked: bool,
    },
    Done(Result<Content, PxeError>),
}

pub struct TftpPhase {
    ep: Endpoints,
    file: String,
    size: Option<u64>,
    stage: Stage,
    /// The server's transfer port, once it answered (the TID).
    peer: Option<SocketAddrV4>,
    port: u16,
    last: Option<Payload>,
    tries: u32,
    deadline: Option<Instant>,
    data: ContentBuilder,
    outbox: VecDeque<Datagram>,
    events: Vec<Event>,
}

fn rrq(file: &str, options: &[(&str, String)]) -> Payload {
    let mut p = OP_RRQ.to_be_bytes().to_vec();
    for part in [file, "octet"] {
        p.extend_from_slice(part.as_bytes());
        p.push(0);
    }
    for (k, v) in options {
        p.extend_from_slice(k.as_bytes());
        p.push(0);
        p.extend_from_slice(v.as_bytes());
        p.push(0);
    }
    p.into()
}

/// An ACK: four bytes, held inline (no allocation per window).
fn ack(block: u16) -> Payload {
    let [op_hi, op_lo] = OP_ACK.to_be_bytes();
    let [hi, lo] = block.to_be_bytes();
    Payload::from([op_hi, op_lo, hi, lo])
}

fn error(code: u16, text: &str) -> Payload {
    let mut p = OP_ERROR.to_be_bytes().to_vec();
    p.extend_from_slice(&code.to_be_bytes());
    p.extend_from_slice(text.as_bytes());
    p.push(0);
    p.into()
}

/// OACK options as (lower-case name, value) pairs.
fn oack_options(body: &[u8]) -> Vec<(String, String)> {
    let parts: Vec<String> = body
        .split(|&b| b == 0)
        .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
        .collect();
    parts
        .chunks(2)
        .filter(|c| c.len() == 2 && !c[0].is_empty())
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect()
}

impl TftpPhase {
    /// Starts with the size probe, or straight with the download when the DHCP offer gave the
    /// size (option 13).
    pub fn new(ep: Endpoints, file: String, size_hint: Option<u64>) -> Self {
        let port = ep.first_port;
        let stage = if size_hint.is_some() {
            Stage::Download {
                window: 1,
                block_size: 512,
                received: 0,
                acked: 0,
                oacked: false,
            }
        } else {
            Stage::Probe
        };
        TftpPhase {
            ep,
            file,
            size: size_hint,
            stage,
            peer: None,
            port,
            last: None,
            tries: 0,
            deadline: None,
            data: ContentBuilder::default(),
            outbox: VecDeque::new(),
            events: Vec::new(),
        }
    }

    pub fn start(&mut self, now: Instant) {
        let probing = matches!(self.stage, Stage::Probe);
        let mut options = Vec::new();
        if probing {
            options.push(("tsize", "0".to_string()));
        }
        options.push(("blksize", BLOCK_SIZE.to_string()));
        options.push(("windowsize", WINDOW_SIZE.to_string()));
        if !probing {
            self.announce_download(now);
        }
        let what = if probing {
            SentPacket::Probe
        } else {
            SentPacket::Rrq
        };
        self.send_to_server(now, rrq(&self.file, &options), what);
    }

    fn announce_download(&mut self, now: Instant) {
        let size = self.size.unwrap_or(0);
        self.console(now, &format!("  NBP filesize is {size} Bytes"));
        self.console(now, " Downloading NBP file...");
    }

    fn console(&mut self, at: Instant, line: &str) {
        self.events.push(Event::Console {
            at,
            line: line.to_string(),
        });
    }

    fn datagram(&self, to: SocketAddrV4, payload: Payload) -> Datagram {
        Datagram::new(
            self.ep.mac,
            self.ep.server_mac,
            SocketAddrV4::new(self.ep.station, self.port),
            to,
            payload,
        )
    }

    fn send_to_server(&mut self, now: Instant, payload: Payload, what: SentPacket) {
        let to = SocketAddrV4::new(self.ep.server, self.ep.server_port);
        self.peer = None;
        self.send(now, to, payload, what);
    }

    /// Sends and arms the retransmission of this packet (`CurRetry` resets on a new packet).
    fn send(&mut self, now: Instant, to: SocketAddrV4, payload: Payload, what: SentPacket) {
        self.outbox.push_back(self.datagram(to, payload.clone()));
        self.events.push(Event::Sent { at: now, what });
        self.last = Some(payload);
        self.tries = 0;
        self.deadline = Some(now + TIMEOUT);
    }

    /// A packet that ends the conversation: not retransmitted.
    fn send_final(&mut self, now: Instant, payload: Payload, what: SentPacket) {
        if let Some(peer) = self.peer {
            self.outbox.push_back(self.datagram(peer, payload));
            self.events.push(Event::Sent { at: now, what });
        }
    }

    fn finish(&mut self, now: Instant, result: Result<Content, PxeError>) {
        match &result {
            Ok(_) => self.console(now, "  NBP file downloaded successfully."),
            Err(e) => {
                if matches!(self.stage, Stage::Probe) {
                    // `PxeBcDhcp4BootInfo` prints the size line even when the probe failed.
                    self.console(now, "  NBP filesize is 0 Bytes");
                }
                self.console(now, &format!("  {e}"));
            }
        }
        self.deadline = None;
        self.stage = Stage::Done(result);
    }

    pub fn poll_transmit(&mut self) -> Option<Datagram> {
        self.outbox.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// The events so far, in order; the list keeps its buffer (a download adds an event
    /// per window).
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, Event> {
        self.events.drain(..)
    }

    pub fn outcome(&self) -> Option<&Result<Content, PxeError>> {
        match &self.stage {
            Stage::Done(r) => Some(r),
            _ => None,
        }
    }

    /// The size the probe learned.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_none_or(|d| now < d) {
            return;
        }
        self.tries += 1;
        if self.tries >= TRIES {
            return self.finish(now, Err(PxeError::E18));
        }
        let to = self
            .peer
            .unwrap_or(SocketAddrV4::new(self.ep.server, self.ep.server_port));
        if let Some(last) = self.last.clone() {
            self.outbox.push_back(self.datagram(to, last));
            self.events.push(Event::Sent {
                at: now,
                what: SentPacket::Retransmission,
            });
        }
        self.deadline = Some(now + TIMEOUT);
    }

    pub fn handle(&mut self, now: Instant, d: &Datagram) {
        // The payload's bytes, found once (a DATA packet's are a shared block's).
        let bytes: &[u8] = &d.payload;
        if d.dst.port() != self.port || *d.src.ip() != self.ep.server || bytes.len() < 4 {
            return;
        }
        // The first answer fixes the server's TID; others are ignored.
        match self.peer {
            None => self.peer = Some(d.src),
            Some(p) if p != d.src => return,
            Some(_) => {}
        }
        let op = u16::from_be_bytes([bytes[0], bytes[1]]);
        let body = &bytes[2..];
        match op {
            OP_ERROR => {
                let code = u16::from_be_bytes([body[0], body[1]]);
                let text = String::from_utf8_lossy(&body[2..]);
                let text = text.trim_end_matches('\0').to_string();
                self.finish(now, Err(PxeError::E23(format!("error {code}: {text}"))));
            }
            OP_OACK => self.on_oack(now, body),
            OP_DATA => self.on_data(now, &d.payload),
            _ => {}
        }
    }

    fn on_oack(&mut self, now: Instant, body: &[u8]) {
        let options = oack_options(body);
        let get = |name: &str| options.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        match &mut self.stage {
            Stage::Probe => {
                let size = get("tsize").and_then(|v| v.parse::<u64>().ok());
                self.send_final(
                    now,
                    error(8, "User aborted the transfer"),
                    SentPacket::Error(8),
                );
                let Some(size) = size else {
                    return self.finish(now, Err(PxeError::E53));
                };
                self.size = Some(size);
                // The download: a new RRQ from the next port, without tsize.
                self.port = self.port.wrapping_add(1);
                self.stage = Stage::Download {
                    window: 1,
                    block_size: 512,
                    received: 0,
                    acked: 0,
                    oacked: false,
                };
                self.announce_download(now);
                let options = [
                    ("blksize", BLOCK_SIZE.to_string()),
                    ("windowsize", WINDOW_SIZE.to_string()),
                ];
                self.send_to_server(now, rrq(&self.file, &options), SentPacket::Rrq);
            }
            Stage::Download {
                window,
                block_size,
                oacked,
                received,
                ..
            } if !*oacked && *received == 0 => {
                let mut bad = false;
                for (k, v) in &options {
                    match (k.as_str(), v.parse::<u16>()) {
                        ("blksize", Ok(n)) if (8..=BLOCK_SIZE).contains(&n) => {
                            *block_size = usize::from(n)
                        }
                        ("windowsize", Ok(n)) if (1..=WINDOW_SIZE).contains(&n) => *window = n,
                        _ => bad = true,
                    }
                }
                *oacked = true;
                if bad {
                    self.send_final(
                        now,
                        error(8, "Malformatted OACK packet"),
                        SentPacket::Error(8),
                    );
                    let e = PxeError::E23("Malformatted OACK packet".into());
                    return self.finish(now, Err(e));
                }
                let peer = self.peer.expect("set on the first answer");
                self.send(now, peer, ack(0), SentPacket::Ack(0));
            }
            _ => {}
        }
    }

    fn on_data(&mut self, now: Instant, packet: &Payload) {
        let bytes: &[u8] = packet;
        let block = u16::from_be_bytes([bytes[2], bytes[3]]);
        let payload = &bytes[4..];
        let peer = self.peer.expect("set on the first answer");
        match &mut self.stage {
            Stage::Probe => {
                // The server ignored the options: Mtftp4's GetInfo gives up.
                self.send_final(now, error(4, "User aborted download"), SentPacket::Error(4));
                let e = PxeError::E99("server sent DATA to the size probe".into());
                self.finish(now, Err(e));
            }
            Stage::Download {
                window,
                block_size,
                received,
                acked,
                ..
            } => {
                let expected = (*received + 1) as u16;
                if block != expected {
                    // Out of order or duplicate: ACK the last good block at once.
                    let last = *received as u16;
                    self.send(now, peer, ack(last), SentPacket::Resync);
                    return;
                }
                *received += 1;
                self.data.push_packet(packet);
                let last_block = payload.len() < *block_size;
                let window_full = u64::from(*window) == *received - *acked;
                if last_block || window_full {
                    *acked = *received;
                    let what = SentPacket::Ack(block);
                    if last_block {
                        self.send_final(now, ack(block), what);
                        let data = std::mem::take(&mut self.data).finish();
                        return self.finish(now, Ok(data));
                    }
                    self.send(now, peer, ack(block), what);
                } else {
                    // Still inside the window: no ACK yet, but the timer restarts.
                    self.deadline = Some(now + TIMEOUT);
                }
            }
            Stage::Done(_) => {}
        }
    }
}
