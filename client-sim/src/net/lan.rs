//! One broadcast segment on a virtual clock, with netbootd on it in-process: its DHCP engine
//! at the link layer (`netbootd::dhcp::link`, the same code that serves AF_PACKET sockets)
//! and its TFTP host (`netbootd::tftp::host`, the same admission and sessions as the tokio
//! shell). Firmware timeouts pass instantly: time jumps to the next deadline.
//!
//! Every frame is kept (for the transcript and `--pcap`), with what the server decided about
//! it (the classes a query matched, a TFTP refusal).

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use netbootd::dhcp::engine::Engine;
use netbootd::dhcp::link::{FrameAnswer, Link};
use netbootd::tftp::host::{HostEvent, TftpHost};
use netbootd::wire::frame::Datagram;

/// A client on the segment: a firmware model, sans-IO.
pub trait Station {
    fn poll_transmit(&mut self) -> Option<Datagram>;
    fn handle(&mut self, now: Duration, datagram: &Datagram);
    fn handle_timeout(&mut self, now: Duration);
    fn poll_timeout(&self) -> Option<Duration>;
    /// True once the station has nothing more to do on the network.
    fn finished(&self) -> bool;
    /// The station's hardware address, so frames for it reach it alone.
    fn mac(&self) -> Option<[u8; 6]> {
        None
    }
}

/// One frame on the wire.
#[derive(Debug, Clone)]
pub struct Frame {
    pub at: Duration,
    pub from_client: bool,
    pub datagram: Datagram,
}

/// What the server decided, in order.
#[derive(Debug, Clone)]
pub enum ServerNote {
    Dhcp {
        at: Duration,
        /// The client's hardware address (chaddr).
        mac: [u8; 6],
        xid: u32,
        query_type: Option<u8>,
        reply_type: Option<u8>,
        classes: Vec<String>,
        /// Why there was no answer, when there was none.
        silence: Option<String>,
    },
    Tftp {
        at: Duration,
        event: HostEvent,
    },
}

/// netbootd on the segment.
pub struct Server {
    pub link: Link,
    pub engine: Engine,
    pub tftp: Option<TftpHost>,
    /// Wall-clock seconds at virtual time zero (leases are stamped with it).
    pub epoch: u64,
}

pub struct Lan {
    pub server: Server,
    now: Duration,
    base: Instant,
    to_client: VecDeque<Datagram>,
    /// Hardware addresses learned from client frames, as a switch and ARP would.
    neighbours: HashMap<Ipv4Addr, [u8; 6]>,
    pub frames: Vec<Frame>,
    /// Keep every frame (transcripts, pcap); off for storms.
    pub keep_frames: bool,
    pub notes: Vec<ServerNote>,
}

impl Lan {
    pub fn new(server: Server) -> Lan {
        Lan {
            server,
            now: Duration::ZERO,
            base: Instant::now(),
            to_client: VecDeque::new(),
            neighbours: HashMap::new(),
            frames: Vec::new(),
            keep_frames: true,
            notes: Vec::new(),
        }
    }

    pub fn now(&self) -> Duration {
        self.now
    }

    /// The server's address on the segment.
    pub fn server_addr(&self) -> Ipv4Addr {
        self.server.link.addr
    }

    /// Runs `station` until it is finished, nothing is in flight and no timer is pending, or
    /// `limit` of virtual time has passed.
    pub fn run(&mut self, station: &mut dyn Station, limit: Duration) {
        let end = self.now + limit;
        loop {
            while let Some(d) = station.poll_transmit() {
                self.on_client_frame(d);
            }
            if let Some(d) = self.to_client.pop_front() {
                self.record(false, &d);
                station.handle(self.now, &d);
                continue;
            }
            // The station is done: server timers left (a transfer waiting for an ACK that
            // will not come) run on in later calls, on the same clock.
            if station.finished() {
                return;
            }
            let next = [station.poll_timeout(), self.server_deadline()]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next else { return };
            if next > end {
                self.now = end;
                return;
            }
            self.now = self.now.max(next);
            if station.poll_timeout().is_some_and(|t| t <= self.now) {
                station.handle_timeout(self.now);
            }
            self.server_timers();
        }
    }

    fn server_deadline(&self) -> Option<Duration> {
        let tftp = self.server.tftp.as_ref()?;
        tftp.next_deadline()
            .map(|d| d.saturating_duration_since(self.base))
    }

    fn server_timers(&mut self) {
        let now = self.base + self.now;
        let Some(tftp) = self.server.tftp.as_mut() else {
            return;
        };
        if tftp.next_deadline().is_some_and(|d| d <= now) {
            let out = tftp.on_timeout(now);
            self.tftp_out(out);
        }
    }

    fn record(&mut self, from_client: bool, d: &Datagram) {
        if self.keep_frames {
            self.frames.push(Frame {
                at: self.now,
                from_client,
                datagram: d.clone(),
            });
        }
    }

    fn on_client_frame(&mut self, d: Datagram) {
        self.record(true, &d);
        if !d.src.ip().is_unspecified() {
            self.neighbours.insert(*d.src.ip(), d.src_mac);
        }
        let to_server = *d.dst.ip() == self.server.link.addr || d.dst.ip().is_broadcast();
        if !to_server {
            return;
        }
        if d.dst.port() == self.server.link.port {
            self.dhcp(&d);
        } else if let Some(tftp) = self.server.tftp.as_mut() {
            if *d.dst.ip() == self.server.link.addr {
                let out = tftp.on_datagram(self.base + self.now, d.src, d.dst.port(), &d.payload);
                self.tftp_out(out);
            }
        }
    }

    fn dhcp(&mut self, d: &Datagram) {
        let epoch = self.server.epoch + self.now.as_secs();
        let answer = self
            .server
            .link
            .answer(&mut self.server.engine, epoch, &d.to_frame());
        match answer {
            Ok(FrameAnswer::Reply {
                frame,
                query,
                reply,
                classes,
            }) => {
                let mut mac = [0u8; 6];
                mac.copy_from_slice(&query.chaddr[..6]);
                self.notes.push(ServerNote::Dhcp {
                    at: self.now,
                    mac,
                    xid: query.xid,
                    query_type: query.message_type(),
                    reply_type: reply.message_type(),
                    classes,
                    silence: None,
                });
                if let Ok(Some(reply)) = Datagram::from_frame(&frame) {
                    self.to_client.push_back(reply);
                }
            }
            Ok(FrameAnswer::Silent { xid, why }) => self.notes.push(ServerNote::Dhcp {
                at: self.now,
                mac: d.src_mac,
                xid,
                query_type: None,
                reply_type: None,
                classes: Vec::new(),
                silence: Some(format!("{why:?}")),
            }),
            Ok(_) => {}
            Err(e) => self.notes.push(ServerNote::Dhcp {
                at: self.now,
                mac: d.src_mac,
                xid: 0,
                query_type: None,
                reply_type: None,
                classes: Vec::new(),
                silence: Some(e.to_string()),
            }),
        }
    }

    fn tftp_out(&mut self, out: Vec<netbootd::tftp::host::Outgoing>) {
        let link = &self.server.link;
        for o in out {
            let dst_mac = self
                .neighbours
                .get(o.dst.ip())
                .copied()
                .unwrap_or([0xff; 6]);
            self.to_client.push_back(Datagram::new(
                link.mac,
                dst_mac,
                SocketAddrV4::new(link.addr, o.src_port),
                o.dst,
                o.packet.encode(),
            ));
        }
        if let Some(tftp) = self.server.tftp.as_mut() {
            for event in tftp.drain_events() {
                self.notes.push(ServerNote::Tftp {
                    at: self.now,
                    event,
                });
            }
        }
    }
}
