//! The TFTP server without sockets: datagrams in, datagrams out, time passed in. It is the
//! only place transfers are admitted and run: netbootd's tokio shell ([`super::shell`]) maps
//! its decisions to sockets, and bootsim runs it in-process on a virtual clock, so the
//! simulator exercises the code production runs.
//!
//! As tftpd-hpa forks one process per request (tftpd.c `main`), each transfer has its own
//! server port, its transfer ID (RFC 1350 4): the shell binds a socket and passes its port
//! with the request. Admission follows tftpd-hpa (map file, mode, name inside the root,
//! uploads only where allowed; [`super::admit`]), then the caps: per client, and in all.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

use super::admit::{admit, Refused, Request};
use super::config::TftpConfig;
use super::files::{Files, Upload};
use super::netascii::Netascii;
use super::packet::{code, Packet};
use super::read::{ReadSession, Source};
use super::remap::Direction;
use super::transfer::{End, Sends};
use super::write::WriteSession;
use crate::time::Instant;

/// A datagram to send: from the transfer's port `src_port` to `dst`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub src_port: u16,
    pub dst: SocketAddr,
    pub packet: Packet,
}

/// What happened, for logs and transcripts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Refused {
        client: SocketAddr,
        /// The port the refusal left from (no transfer runs on it).
        port: u16,
        file: String,
        refused: Refused,
    },
    Started {
        client: SocketAddr,
        file: String,
        port: u16,
        direction: Direction,
    },
    Ended {
        client: SocketAddr,
        port: u16,
        file: String,
        direction: Direction,
        end: End,
    },
}

/// Counters an operator can read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    pub requests: u64,
    pub refused: u64,
    pub completed: u64,
    pub failed: u64,
    /// Bytes of completed transfers, both directions.
    pub bytes: u64,
}

enum Session {
    Read(ReadSession),
    /// The upload is taken out to be committed when the last block arrives.
    Write(WriteSession<Box<dyn Upload>>),
}

impl Session {
    fn on_packet(&mut self, now: Instant, packet: &Packet, sends: &mut Sends) {
        match self {
            Session::Read(s) => s.on_packet_into(now, packet, sends),
            Session::Write(s) => sends.extend(s.on_packet(now, packet)),
        }
    }

    fn on_timeout(&mut self, now: Instant) -> Sends {
        match self {
            Session::Read(s) => s.on_timeout(now),
            Session::Write(s) => s.on_timeout(now),
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match self {
            Session::Read(s) => s.deadline(),
            Session::Write(s) => s.deadline(),
        }
    }

    fn end(&self) -> Option<&End> {
        match self {
            Session::Read(s) => s.end(),
            Session::Write(s) => s.end(),
        }
    }

    fn direction(&self) -> Direction {
        match self {
            Session::Read(_) => Direction::Read,
            Session::Write(_) => Direction::Write,
        }
    }
}

struct Transfer {
    client: SocketAddr,
    file: String,
    session: Session,
    /// The earliest deadline of this transfer in the engine's timers: a later one is not
    /// pushed until that one pops (a session moves its deadline with every packet; one heap
    /// entry per packet made as many empty wake-ups).
    scheduled: Option<Instant>,
}

impl Transfer {
    /// A datagram from `from` to this transfer on `port`: what its session sends back is
    /// added to `sends`, or the ERROR 5 a stranger gets (RFC 1350 4: the transfer goes on)
    /// comes back in `Err`.
    fn on_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        port: u16,
        bytes: &[u8],
        sends: &mut Sends,
    ) -> Result<(), Outgoing> {
        if self.client != from {
            return Err(Outgoing {
                src_port: port,
                dst: from,
                packet: Packet::Error {
                    code: code::UNKNOWN_TID,
                    message: "Unknown transfer ID".into(),
                },
            });
        }
        if let Ok(packet) = Packet::decode(bytes) {
            self.session.on_packet(now, &packet, sends);
        }
        Ok(())
    }
}

/// A running read taken out of the engine ([`TftpEngine::detach`]) so that a shell can run
/// it on a thread and socket of its own, a blocking loop with no hop between the packet and
/// the decision (tftpd-hpa forks a process per transfer for the same reason). Its session
/// still decides every packet; the engine keeps counting it under the caps until
/// [`TftpEngine::finish`] takes it back, ended.
pub struct Detached {
    port: u16,
    transfer: Transfer,
}

impl Detached {
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The client's address and port (its transfer ID).
    pub fn client(&self) -> SocketAddr {
        self.transfer.client
    }

    /// The packets to send for a datagram from `from`.
    pub fn on_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) -> Vec<Outgoing> {
        let mut sends = Sends::new();
        match self
            .transfer
            .on_datagram(now, from, self.port, bytes, &mut sends)
        {
            Ok(()) => self.address(sends),
            Err(stranger) => vec![stranger],
        }
    }

    /// The packets to send when the timer is due at `now` (none before its deadline).
    pub fn on_timeout(&mut self, now: Instant) -> Vec<Outgoing> {
        let sends = self.transfer.session.on_timeout(now);
        self.address(sends)
    }

    /// When [`Detached::on_timeout`] must be called; None once the transfer has ended.
    pub fn deadline(&self) -> Option<Instant> {
        self.transfer.session.deadline()
    }

    /// Reads the next block ahead, for a shell to call after sending, while the client is
    /// busy acknowledging: the answer to its ACK then leaves without a read in between.
    pub fn read_ahead(&mut self) {
        if let Session::Read(s) = &mut self.transfer.session {
            s.read_ahead();
        }
    }

    fn address(&self, sends: Sends) -> Vec<Outgoing> {
        sends
            .into_iter()
            .map(|packet| Outgoing {
                src_port: self.port,
                dst: self.transfer.client,
                packet,
            })
            .collect()
    }
}

pub struct TftpEngine {
    config: TftpConfig,
    files: Box<dyn Files>,
    /// Transfers by their server port: hashed (foldhash: the ports are the server's own
    /// choice, nothing an attacker picks), one probe per packet where a B-tree walked a few
    /// nodes (a simulated storm runs thousands of transfers at once).
    transfers: HashMap<u16, Transfer, foldhash::fast::FixedState>,
    /// Ports of transfers running detached ([`TftpEngine::detach`]).
    detached: HashSet<u16>,
    /// Transfers running per client address.
    per_client: HashMap<IpAddr, usize>,
    /// Where [`TftpEngine::free_port`] looks next.
    next_port: u16,
    events: Vec<Event>,
    /// Transfer timers, (deadline, port); entries go stale when a session moves its deadline
    /// and are dropped when they come up (so thousands of transfers cost a heap, not a scan).
    timers: BinaryHeap<Reverse<(Instant, u16)>>,
    stats: Stats,
    /// A session's sends, reused from packet to packet (no allocation per ACK).
    scratch: Sends,
}

impl TftpEngine {
    pub fn new(config: TftpConfig, files: Box<dyn Files>) -> TftpEngine {
        TftpEngine {
            config,
            files,
            transfers: HashMap::default(),
            detached: HashSet::new(),
            per_client: HashMap::new(),
            next_port: 49152,
            events: Vec::new(),
            timers: BinaryHeap::new(),
            stats: Stats::default(),
            scratch: Sends::new(),
        }
    }

    pub fn config(&self) -> &TftpConfig {
        &self.config
    }

    /// The port requests arrive on.
    pub fn port(&self) -> u16 {
        self.config.listen.port()
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn drain_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Transfers still running, detached ones included.
    pub fn active(&self) -> usize {
        self.transfers.len() + self.detached.len()
    }

    /// Whether a transfer runs on `port` (a shell keeps its socket while it does).
    pub fn is_running(&self, port: u16) -> bool {
        self.transfers.contains_key(&port) || self.detached.contains(&port)
    }

    /// Takes the read running on `port` out of the engine to be run by the caller (see
    /// [`Detached`]); None for a write (its commit stays here) or no transfer.
    pub fn detach(&mut self, port: u16) -> Option<Detached> {
        if !matches!(self.transfers.get(&port)?.session, Session::Read(_)) {
            return None;
        }
        let transfer = self.transfers.remove(&port)?;
        self.detached.insert(port);
        Some(Detached { port, transfer })
    }

    /// Takes back a detached transfer once it has ended (its deadline is None), for the
    /// counters, the caps and its [`Event::Ended`]; a transfer still running is ended as
    /// timed out (its shell stopped).
    pub fn finish(&mut self, detached: Detached) {
        let Detached { port, mut transfer } = detached;
        if !self.detached.remove(&port) {
            return;
        }
        if transfer.session.end().is_none() {
            if let Session::Read(s) = &mut transfer.session {
                s.abandon();
            }
        }
        self.transfers.insert(port, transfer);
        self.settle(port, &mut Sends::new(), &mut Vec::new());
    }

    /// A port no transfer uses, from the dynamic range, for shells without sockets.
    pub fn free_port(&mut self) -> u16 {
        loop {
            let port = self.next_port;
            self.next_port = if port == u16::MAX { 49152 } else { port + 1 };
            if !self.is_running(port) && port != self.port() {
                return port;
            }
        }
    }

    /// A datagram from `from` to the server's `port`: a request on the listening port (the
    /// transfer then gets a [`TftpEngine::free_port`]), else a packet of a transfer.
    pub fn on_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        port: u16,
        bytes: &[u8],
    ) -> Vec<Outgoing> {
        let mut out = Vec::new();
        self.on_datagram_into(now, from, port, bytes, &mut out);
        out
    }

    /// As [`TftpEngine::on_datagram`], adding the datagrams to send to `out` (a simulation
    /// reuses one buffer for millions of packets).
    pub fn on_datagram_into(
        &mut self,
        now: Instant,
        from: SocketAddr,
        port: u16,
        bytes: &[u8],
        out: &mut Vec<Outgoing>,
    ) {
        if port == self.port() {
            let transfer_port = self.free_port();
            return out.extend(self.on_request(now, from, transfer_port, bytes));
        }
        self.on_transfer_packet_into(now, from, port, bytes, out)
    }

    /// A packet to the transfer on `port`.
    pub fn on_transfer_packet(
        &mut self,
        now: Instant,
        from: SocketAddr,
        port: u16,
        bytes: &[u8],
    ) -> Vec<Outgoing> {
        let mut out = Vec::new();
        self.on_transfer_packet_into(now, from, port, bytes, &mut out);
        out
    }

    fn on_transfer_packet_into(
        &mut self,
        now: Instant,
        from: SocketAddr,
        port: u16,
        bytes: &[u8],
        out: &mut Vec<Outgoing>,
    ) {
        let Some(transfer) = self.transfers.get_mut(&port) else {
            return;
        };
        let mut sends = std::mem::take(&mut self.scratch);
        match transfer.on_datagram(now, from, port, bytes, &mut sends) {
            Ok(()) => self.settle(port, &mut sends, out),
            Err(stranger) => out.push(stranger),
        }
        sends.clear();
        self.scratch = sends;
    }

    /// A request from `from`; its transfer, if admitted, runs on `port`. Answers (an OACK,
    /// the first block, an ACK, or an ERROR) leave from `port`.
    pub fn on_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        port: u16,
        bytes: &[u8],
    ) -> Vec<Outgoing> {
        self.stats.requests += 1;
        let request = match Packet::decode(bytes).map(Request::from_packet) {
            Ok(Some(r)) => r,
            // Not a request (a stray DATA or ACK to the listening port): tftpd-hpa ignores it.
            Ok(None) => return Vec::new(),
            Err(e) => {
                let refused = Refused {
                    code: code::ILLEGAL,
                    message: "Illegal TFTP operation".into(),
                    reason: format!("malformed request: {e}"),
                };
                return self.refuse(from, port, String::new(), refused);
            }
        };
        let asked = String::from_utf8_lossy(&request.filename)
            .escape_debug()
            .to_string();
        let started = self.admit_and_open(now, from, &request);
        match started {
            Ok((name, (session, mut sends))) => {
                self.events.push(Event::Started {
                    client: from,
                    file: name.clone(),
                    port,
                    direction: request.direction,
                });
                self.transfers.insert(
                    port,
                    Transfer {
                        client: from,
                        file: name,
                        session,
                        scheduled: None,
                    },
                );
                let mut out = Vec::new();
                self.settle(port, &mut sends, &mut out);
                out
            }
            Err(refused) => self.refuse(from, port, asked, refused),
        }
    }

    /// Answers a request with the ERROR of its refusal, from `port`, and records why.
    fn refuse(
        &mut self,
        from: SocketAddr,
        port: u16,
        file: String,
        refused: Refused,
    ) -> Vec<Outgoing> {
        self.stats.refused += 1;
        let packet = refused.packet();
        self.events.push(Event::Refused {
            client: from,
            port,
            file,
            refused,
        });
        vec![Outgoing {
            src_port: port,
            dst: from,
            packet,
        }]
    }

    /// Admits `request` (tftpd-hpa's rules, then the caps) and opens its session.
    fn admit_and_open(
        &mut self,
        now: Instant,
        from: SocketAddr,
        request: &Request,
    ) -> Result<(String, (Session, Sends)), Refused> {
        let admitted = admit(&self.config, request, from.ip())?;
        self.acquire(from.ip())?;
        let opened = self.open(now, request, &admitted.path);
        if opened.is_err() {
            self.release(from.ip());
        }
        Ok((admitted.name, opened?))
    }

    fn open(
        &mut self,
        now: Instant,
        request: &Request,
        path: &std::path::Path,
    ) -> Result<(Session, Sends), Refused> {
        let limits = &self.config.limits;
        let io_refusal = |e: std::io::Error| Refused {
            code: code::ACCESS,
            message: "Access violation".into(),
            reason: e.to_string(),
        };
        let session = match request.direction {
            Direction::Read => {
                let (reader, size) = self.files.open(path).map_err(io_refusal)?;
                let octet = request.mode != "netascii";
                let (source, size): (Box<dyn Source>, _) = if octet {
                    (Box::new(reader), Some(size))
                } else {
                    (Box::new(Netascii::new(reader)), None)
                };
                let files = &mut self.files;
                let shared = |blksize| octet.then(|| files.blocks(path, blksize)).flatten();
                let (s, sends) =
                    ReadSession::start_shared(now, source, size, &request.options, limits, shared);
                (Session::Read(s), sends)
            }
            Direction::Write => {
                let max_bytes = self.config.upload.as_ref().map_or(0, |u| u.max_bytes);
                let upload = self.files.create(path).map_err(io_refusal)?;
                let (s, sends) =
                    WriteSession::start(now, upload, &request.options, limits, max_bytes);
                (Session::Write(s), sends)
            }
        };
        Ok(session)
    }

    /// Counts a transfer for `client` unless it, or the server, is at its cap.
    fn acquire(&mut self, client: IpAddr) -> Result<(), Refused> {
        let refuse = |reason: &str| Refused {
            code: code::UNDEFINED,
            message: "Too many transfers".into(),
            reason: reason.into(),
        };
        if self.active() >= self.config.max_transfers {
            return Err(refuse("the server is at its transfer limit"));
        }
        let count = self.per_client.entry(client).or_insert(0);
        if *count >= self.config.per_client {
            return Err(Refused {
                message: "Too many transfers from this client".into(),
                ..refuse("too many transfers from this client")
            });
        }
        *count += 1;
        Ok(())
    }

    fn release(&mut self, client: IpAddr) {
        if let Some(count) = self.per_client.get_mut(&client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.per_client.remove(&client);
            }
        }
    }

    /// Addresses `sends` from transfer `port` into `out` (leaving `sends` empty), arms its
    /// timer, and ends the transfer when its session has ended: a complete upload is
    /// committed before its last ACK leaves.
    fn settle(&mut self, port: u16, sends: &mut Sends, out: &mut Vec<Outgoing>) {
        let Some(transfer) = self.transfers.get_mut(&port) else {
            sends.clear();
            return;
        };
        let client = transfer.client;
        if let Some(deadline) = transfer.session.deadline() {
            if transfer.scheduled.is_none_or(|s| deadline < s) {
                self.timers.push(Reverse((deadline, port)));
                transfer.scheduled = Some(deadline);
            }
        }
        if transfer.session.end().is_some() {
            let transfer = self.transfers.remove(&port).expect("present");
            self.release(client.ip());
            let direction = transfer.session.direction();
            let end = match transfer.session {
                Session::Read(s) => s.end().cloned().expect("ended"),
                Session::Write(s) => {
                    let end = s.end().cloned().expect("ended");
                    match end {
                        End::Complete { .. } => match s.into_sink().commit() {
                            Ok(()) => end,
                            Err(e) => {
                                // The last ACK would tell the client its file is stored.
                                sends.clear();
                                sends.push(commit_error(&e));
                                End::WriteFailed(format!("{}: {e}", transfer.file))
                            }
                        },
                        other => other,
                    }
                }
            };
            match &end {
                End::Complete { bytes, .. } => {
                    self.stats.completed += 1;
                    self.stats.bytes += bytes;
                }
                // EDK2 ends its size probe with ERROR 8 after the OACK: not a failure.
                End::ClientError { code: 8, .. } => {}
                _ => self.stats.failed += 1,
            }
            self.events.push(Event::Ended {
                client,
                port,
                file: transfer.file,
                direction,
                end,
            });
        }
        out.extend(sends.drain(..).map(|packet| Outgoing {
            src_port: port,
            dst: client,
            packet,
        }));
    }

    /// The earliest moment a transfer's timer may fire (possibly a stale one: then
    /// [`TftpEngine::on_timeout`] finds nothing due and drops it).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    /// Fires every timer due at `now`.
    pub fn on_timeout(&mut self, now: Instant) -> Vec<Outgoing> {
        let mut out = Vec::new();
        self.on_timeout_into(now, &mut out);
        out
    }

    /// As [`TftpEngine::on_timeout`], adding the datagrams to send to `out`.
    pub fn on_timeout_into(&mut self, now: Instant, out: &mut Vec<Outgoing>) {
        while let Some(Reverse((t, port))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            let Some(transfer) = self.transfers.get_mut(&port) else {
                continue; // ended
            };
            if transfer.scheduled != Some(t) {
                continue; // superseded by an earlier deadline, or another transfer's
            }
            transfer.scheduled = None;
            match transfer.session.deadline() {
                Some(d) if d <= now => {}
                Some(d) => {
                    // The session moved its deadline later: wait for that one.
                    self.timers.push(Reverse((d, port)));
                    transfer.scheduled = Some(d);
                    continue;
                }
                None => continue,
            }
            let mut sends = transfer.session.on_timeout(now);
            self.settle(port, &mut sends, out);
        }
    }
}

/// The ERROR for an upload that could not be stored.
fn commit_error(e: &std::io::Error) -> Packet {
    if e.kind() == std::io::ErrorKind::AlreadyExists {
        Packet::Error {
            code: code::EXISTS,
            message: "File already exists".into(),
        }
    } else {
        Packet::Error {
            code: code::UNDEFINED,
            message: e.to_string(),
        }
    }
}
