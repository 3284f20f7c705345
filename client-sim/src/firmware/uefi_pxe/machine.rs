//! The whole UEFI PXE boot attempt: `EfiPxeLoadFile` runs the DHCP phase, then the TFTP size
//! probe and download (`PxeBcLoadBootFile`), and hands the NBP to the firmware to start.
//! One DORA, one probe, one download (firmware.md A.1).

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::Duration;

use netbootd::time::Instant;
use netbootd::wire::frame::Datagram;

use super::dhcp::{self, DhcpPhase};
use super::packets::Identity;
use super::tftp::{self, Endpoints, TftpPhase};
use super::PxeError;
use crate::content::Content;

/// EDK2's UDP ephemeral ports are small numbers (OBSERVED 1568 for the probe, 1569 next).
pub const FIRST_TFTP_PORT: u16 = 1568;

/// The network boot program as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nbp {
    pub name: String,
    pub server: Ipv4Addr,
    pub station: Ipv4Addr,
    pub bytes: Content,
}

/// A console line with the virtual time it was printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleLine {
    pub at: Instant,
    pub text: String,
}

/// A packet the firmware sent, named for the transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub at: Instant,
    pub what: SentWhat,
}

/// A DHCP packet by its name, or a TFTP packet as a value written out when read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentWhat {
    Dhcp(&'static str),
    Tftp(tftp::SentPacket),
}

impl std::fmt::Display for SentWhat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SentWhat::Dhcp(name) => f.write_str(name),
            SentWhat::Tftp(packet) => packet.fmt(f),
        }
    }
}

/// A phase's state is held inline: the download's every packet reaches it.
#[allow(clippy::large_enum_variant)]
enum Phase {
    Dhcp(DhcpPhase),
    Tftp(TftpPhase, dhcp::BootInfo),
    Done(Result<Nbp, PxeError>),
}

pub struct UefiPxe {
    phase: Phase,
    console: Vec<ConsoleLine>,
    sent: Vec<Sent>,
    id: Identity,
    /// Packets a finished phase still had queued (a final ACK, an ERROR 8).
    pending: VecDeque<Datagram>,
    /// The server's TFTP port (69 on a real network; tests may move it).
    tftp_port: u16,
}

impl UefiPxe {
    pub fn new(id: Identity, xid: u32, tick_phase: Duration) -> Self {
        UefiPxe {
            phase: Phase::Dhcp(DhcpPhase::new(id.clone(), xid, tick_phase)),
            console: Vec::new(),
            sent: Vec::new(),
            id,
            pending: VecDeque::new(),
            tftp_port: 69,
        }
    }

    pub fn with_tftp_port(mut self, port: u16) -> Self {
        self.tftp_port = port;
        self
    }

    pub fn start(&mut self, now: Instant) {
        if let Phase::Dhcp(d) = &mut self.phase {
            d.start(now);
        }
        self.advance(now);
    }

    pub fn handle(&mut self, now: Instant, d: &Datagram) {
        match &mut self.phase {
            Phase::Dhcp(p) => p.handle(now, d),
            Phase::Tftp(p, _) => p.handle(now, d),
            Phase::Done(_) => {}
        }
        self.advance(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        match &mut self.phase {
            Phase::Dhcp(p) => p.handle_timeout(now),
            Phase::Tftp(p, _) => p.handle_timeout(now),
            Phase::Done(_) => {}
        }
        self.advance(now);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Dhcp(p) => p.poll_timeout(),
            Phase::Tftp(p, _) => p.poll_timeout(),
            Phase::Done(_) => None,
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Datagram> {
        if !self.pending.is_empty() {
            return self.pending.pop_front();
        }
        match &mut self.phase {
            Phase::Dhcp(p) => p.poll_transmit(),
            Phase::Tftp(p, _) => p.poll_transmit(),
            Phase::Done(_) => None,
        }
    }

    pub fn outcome(&self) -> Option<&Result<Nbp, PxeError>> {
        match &self.phase {
            Phase::Done(r) => Some(r),
            _ => None,
        }
    }

    pub fn console(&self) -> &[ConsoleLine] {
        &self.console
    }

    pub fn sent(&self) -> &[Sent] {
        &self.sent
    }

    /// Collects events and moves to the next phase when one ends. Packets still queued by
    /// the finished phase (a final ACK, an ERROR 8) are carried over.
    fn advance(&mut self, now: Instant) {
        let mut carried = Vec::new();
        match &mut self.phase {
            Phase::Dhcp(p) => {
                for e in p.drain_events() {
                    match e {
                        dhcp::Event::Console { at, line } => {
                            self.console.push(ConsoleLine { at, text: line })
                        }
                        dhcp::Event::Sent { at, what } => self.sent.push(Sent {
                            at,
                            what: SentWhat::Dhcp(what),
                        }),
                        _ => {}
                    }
                }
                let Some(result) = p.outcome().cloned() else {
                    return;
                };
                while let Some(d) = p.poll_transmit() {
                    carried.push(d);
                }
                match result {
                    Err(e) => self.phase = Phase::Done(Err(e)),
                    Ok(info) => {
                        let ep = Endpoints {
                            mac: self.id.mac,
                            station: info.station,
                            server: info.server,
                            server_mac: info.server_mac,
                            first_port: FIRST_TFTP_PORT,
                            server_port: self.tftp_port,
                        };
                        let mut t = TftpPhase::new(ep, info.file.clone(), info.size_hint);
                        t.start(now);
                        self.phase = Phase::Tftp(t, info);
                        return self.advance_with(carried, now);
                    }
                }
            }
            Phase::Tftp(p, info) => {
                for e in p.drain_events() {
                    match e {
                        tftp::Event::Console { at, line } => {
                            self.console.push(ConsoleLine { at, text: line })
                        }
                        tftp::Event::Sent { at, what } => self.sent.push(Sent {
                            at,
                            what: SentWhat::Tftp(what),
                        }),
                    }
                }
                let Some(result) = p.outcome().cloned() else {
                    return;
                };
                while let Some(d) = p.poll_transmit() {
                    carried.push(d);
                }
                let info = info.clone();
                self.phase = Phase::Done(result.map(|bytes| Nbp {
                    name: info.file,
                    server: info.server,
                    station: info.station,
                    bytes,
                }));
            }
            Phase::Done(_) => {}
        }
        self.pending.extend(carried);
    }

    fn advance_with(&mut self, carried: Vec<Datagram>, now: Instant) {
        self.pending.extend(carried);
        self.advance(now);
    }
}

impl crate::net::lan::Station for UefiPxe {
    fn poll_transmit(&mut self) -> Option<Datagram> {
        UefiPxe::poll_transmit(self)
    }
    fn handle(&mut self, now: Instant, datagram: &Datagram) {
        UefiPxe::handle(self, now, datagram)
    }
    fn handle_timeout(&mut self, now: Instant) {
        UefiPxe::handle_timeout(self, now)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        UefiPxe::poll_timeout(self)
    }
    fn finished(&self) -> bool {
        self.outcome().is_some() && self.pending.is_empty()
    }
}
