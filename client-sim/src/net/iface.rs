//! A real interface, through an AF_PACKET socket: the firmware models' frames go out as they
//! are (their own source MAC, 0.0.0.0 before they have an address), and every frame the
//! interface sees comes back to them, so bootsim can boot against any server (real Kea and
//! tftpd-hpa, dnsmasq, a production segment). Time is real here: a firmware's 4-second
//! retransmission takes 4 seconds.
//!
//! The interface should carry no IP address of its own (the kernel would answer for it) and
//! see the client's frames: the socket joins promiscuous mode for its lifetime.

use std::collections::HashMap;
use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

use netbootd::kea::model::Config;
use netbootd::time::{Clock, Instant};
use netbootd::wire::arp::ArpRepr;
use netbootd::wire::dhcp::Message;
use netbootd::wire::frame::Datagram;
use netbootd::wire::packet_socket::{Direction, PacketSocket, Protocol};
use netbootd::wire::MacAddr;

use super::ether::{self, Inbound};
use super::lan::{Frame, ServerNote, Station};
use super::Network;

/// A packet socket on interface `name` that sees every frame on it, both ways, in
/// promiscuous mode for its lifetime.
pub fn watch(name: &str) -> io::Result<PacketSocket> {
    PacketSocket::open(name, Protocol::All)?.promiscuous()
}

pub struct Iface {
    socket: PacketSocket,
    name: String,
    clock: Clock,
    acks: HashMap<MacAddr, Ipv4Addr>,
    pub frames: Vec<Frame>,
}

impl Iface {
    pub fn open(name: &str) -> io::Result<Iface> {
        Ok(Iface {
            socket: watch(name)?,
            name: name.into(),
            clock: Clock::start(),
            acks: HashMap::new(),
            frames: Vec::new(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn send(&mut self, d: &Datagram) {
        // A frame the interface refuses is a datagram lost, as on a real wire.
        let _ = self.socket.send(&d.to_frame());
        self.frames.push(Frame {
            at: self.clock.now(),
            from_client: true,
            datagram: d.clone(),
        });
    }

    /// Waits up to `wait` for a frame from the wire (not one we sent).
    fn receive(&mut self, wait: Duration) -> Option<Datagram> {
        let (buf, direction) = self.socket.receive(wait)?;
        if direction == Direction::Outgoing {
            return None;
        }
        let frame = &buf[..];
        let d = match ether::classify(frame) {
            Inbound::Udp(d) => d,
            Inbound::Arp(request) => {
                if let Some(reply) = self.arp_reply(&request) {
                    let _ = self.socket.send(&reply.emit());
                }
                return None;
            }
            Inbound::Ignored(_) => return None,
        };
        if d.src.port() == 67 {
            if let Ok(m) = Message::decode(&d.payload) {
                if m.message_type() == Some(5) {
                    self.acks.insert(m.client_mac(), m.yiaddr);
                }
            }
        }
        self.frames.push(Frame {
            at: self.clock.now(),
            from_client: false,
            datagram: d.clone(),
        });
        Some(d)
    }
}

impl Iface {
    /// Firmware answers ARP for its address (EDK2's ArpDxe, iPXE's arp.c); the models do not
    /// speak ARP, so the wire answers for them, for the addresses their DHCPACKs gave.
    fn arp_reply(&self, request: &ArpRepr) -> Option<ArpRepr> {
        let (mac, _) = self.acks.iter().find(|(_, ip)| **ip == request.target_ip)?;
        Some(request.reply_from(*mac))
    }
}

impl Network for Iface {
    fn run(&mut self, station: &mut dyn Station, limit: Duration) {
        let end = self.clock.now() + limit;
        loop {
            while let Some(d) = station.poll_transmit() {
                self.send(&d);
            }
            if station.finished() {
                return;
            }
            let now = self.clock.now();
            if now >= end {
                return;
            }
            let deadline = station.poll_timeout().unwrap_or(end).min(end);
            if deadline <= now {
                station.handle_timeout(now);
                continue;
            }
            if let Some(d) = self.receive(deadline - now) {
                station.handle(self.clock.now(), &d);
            }
        }
    }

    fn now(&self) -> Instant {
        self.clock.now()
    }

    fn notes(&self) -> &[ServerNote] {
        &[]
    }

    fn config(&self) -> Option<&Config> {
        None
    }

    fn leased(&self, mac: MacAddr) -> Option<Ipv4Addr> {
        self.acks.get(&mac).copied()
    }
}
