//! iPXE's TFTP client (src/net/udp/tftp.c; firmware.md B.6), sans-IO.
//!
//! RRQ `<path> octet blksize 1432 tsize 0` from a high port (no windowsize, no timeout
//! option); ACK 0 after an OACK; every DATA acknowledged with the highest block received in
//! order; block numbers roll over; the first reply's address and port lock the transfer.
//! The request or last ACK is sent again on iPXE's retry timer (0.25 s doubling to 10 s, so
//! the transfer fails at 15.75 s). A server ERROR maps to iPXE's own error
//! (`tftp_errcode_to_rc`): 1 "No such file or directory", 2 "Permission denied", 4 and
//! others their own texts.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use netbootd::tftp::packet::Packet;
use netbootd::time::Instant;
use netbootd::wire::frame::Datagram;
use netbootd::wire::MacAddr;
use netbootd::wire::Payload;

use super::dhcp::Retry;
use crate::content::{Content, ContentBuilder};

/// `TFTP_MAX_BLKSIZE`.
pub const BLKSIZE: u16 = 1432;

/// Why a download failed, with iPXE's error text (strerror: `"%s (https://ipxe.org/%08x)"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    NotFound,
    PermissionDenied,
    TimedOut,
    Other(String),
}

impl FetchError {
    /// The text iPXE prints after the URI.
    pub fn text(&self) -> String {
        match self {
            FetchError::NotFound => "No such file or directory (https://ipxe.org/2d12618e)".into(),
            FetchError::PermissionDenied => "Permission denied (https://ipxe.org/0212618e)".into(),
            FetchError::TimedOut => "Connection timed out (https://ipxe.org/4c126092)".into(),
            FetchError::Other(s) => s.clone(),
        }
    }
}

pub struct TftpGet {
    mac: MacAddr,
    server_mac: MacAddr,
    local: SocketAddrV4,
    server: SocketAddrV4,
    path: String,
    peer: Option<SocketAddrV4>,
    blksize: usize,
    pub size: Option<u64>,
    /// Absolute number of the last block received in order.
    received: u64,
    data: ContentBuilder,
    /// The request or the last ACK, sent again on the retry timer (an ACK is held inline:
    /// no allocation per block).
    last: Payload,
    retry: Retry,
    out: VecDeque<Datagram>,
    outcome: Option<Result<Content, FetchError>>,
}

impl TftpGet {
    pub fn new(
        now: Instant,
        mac: MacAddr,
        server_mac: MacAddr,
        local: SocketAddrV4,
        server: Ipv4Addr,
        path: &str,
    ) -> TftpGet {
        let rrq = Packet::Rrq {
            filename: path.as_bytes().to_vec(),
            mode: "octet".into(),
            options: vec![
                ("blksize".into(), BLKSIZE.to_string()),
                ("tsize".into(), "0".into()),
            ],
        }
        .encode()
        .into();
        let mut t = TftpGet {
            mac,
            server_mac,
            local,
            server: SocketAddrV4::new(server, 69),
            path: path.to_string(),
            peer: None,
            blksize: 512,
            size: None,
            received: 0,
            data: ContentBuilder::default(),
            last: rrq,
            retry: Retry::start(now, Duration::from_millis(250), Duration::from_secs(10)),
            out: VecDeque::new(),
            outcome: None,
        };
        t.send_last();
        t
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    fn send_last(&mut self) {
        let dst = self.peer.unwrap_or(self.server);
        self.out.push_back(Datagram::new(
            self.mac,
            self.server_mac,
            self.local,
            dst,
            self.last.clone(),
        ));
    }

    fn ack(&mut self, now: Instant) {
        let [hi, lo] = ((self.received & 0xffff) as u16).to_be_bytes();
        self.last = Payload::from([0, 4, hi, lo]);
        self.retry = Retry::start(now, Duration::from_millis(250), Duration::from_secs(10));
        self.send_last();
    }

    pub fn poll_transmit(&mut self) -> Option<Datagram> {
        self.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.outcome.is_none().then_some(self.retry.deadline)
    }

    pub fn outcome(&self) -> Option<&Result<Content, FetchError>> {
        self.outcome.as_ref()
    }

    /// Bytes so far (for the progress a console would show).
    pub fn progress(&self) -> u64 {
        self.data.len()
    }

    pub fn handle(&mut self, now: Instant, d: &Datagram) {
        if self.outcome.is_some() || d.dst != self.local || *d.src.ip() != *self.server.ip() {
            return;
        }
        if *self.peer.get_or_insert(d.src) != d.src {
            return; // not the transfer's peer
        }
        // DATA is read in place (its bytes may be a packet shared by every download).
        if let [0, 3, hi, lo, ..] = d.payload[..] {
            return self.on_data(now, u16::from_be_bytes([hi, lo]), &d.payload);
        }
        let Ok(packet) = Packet::decode(&d.payload) else {
            return;
        };
        match packet {
            Packet::Oack { options } => {
                for (k, v) in options {
                    match k.to_ascii_lowercase().as_str() {
                        "blksize" => self.blksize = v.parse().unwrap_or(512),
                        "tsize" => self.size = v.parse().ok(),
                        _ => {}
                    }
                }
                self.ack(now);
            }
            Packet::Error { code, message } => {
                self.outcome = Some(Err(match code {
                    1 => FetchError::NotFound,
                    2 => FetchError::PermissionDenied,
                    _ => FetchError::Other(format!("TFTP error {code}: {message}")),
                }));
            }
            _ => {}
        }
    }

    fn on_data(&mut self, now: Instant, block: u16, packet: &Payload) {
        if block == ((self.received + 1) & 0xffff) as u16 {
            self.received += 1;
            self.data.push_packet(packet);
            let last = packet.len() - 4 < self.blksize;
            self.ack(now);
            if last {
                self.outcome = Some(Ok(std::mem::take(&mut self.data).finish()));
            }
        } else {
            self.ack(now);
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.outcome.is_some() || now < self.retry.deadline {
            return;
        }
        if !self.retry.expired(now) {
            self.outcome = Some(Err(FetchError::TimedOut));
            return;
        }
        self.send_last();
    }
}
