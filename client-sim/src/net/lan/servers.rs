//! The servers' side of the segment: netbootd's engines in-process (the DHCP engine at the
//! link layer, the TFTP engine and its timers) and a DHCP relay agent in front of them, as
//! [`super::Lan`] hands them the frames that reach the servers.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use netbootd::dhcp::link::FrameAnswer;
use netbootd::tftp::engine::Outgoing;
use netbootd::time::Instant;
use netbootd::wire::dhcp::Message;
use netbootd::wire::frame::Datagram;
use netbootd::wire::MacAddr;

use super::{Lan, ServerNote, Towards, RELAY_MAC};

impl Lan {
    pub(super) fn server_deadline(&self) -> Option<Instant> {
        self.servers
            .iter()
            .filter_map(|s| s.tftp.as_ref()?.next_deadline())
            .min()
    }

    pub(super) fn server_timers(&mut self) {
        let now = self.now;
        for i in 0..self.servers.len() {
            let Some(tftp) = self.servers[i].tftp.as_mut() else {
                continue;
            };
            if tftp.next_deadline().is_some_and(|d| d <= now) {
                let mut out = std::mem::take(&mut self.outgoing);
                tftp.on_timeout_into(now, &mut out);
                self.server_retransmissions += out.len() as u64;
                self.tftp_out(i, &mut out, None);
                self.outgoing = out;
            }
        }
    }

    /// A frame reached the servers' side of the link: every server hears a broadcast, a
    /// unicast reaches the server it is addressed to. `station`: the one that sent it, when
    /// known.
    pub(super) fn at_server(&mut self, d: Datagram, station: Option<usize>) {
        let d = match self.relay {
            Some(relay) if d.dst.port() == 67 && d.src.port() == 68 => {
                return self.relay_to_servers(relay, d);
            }
            _ => d,
        };
        for i in 0..self.servers.len() {
            let link = &self.servers[i].link;
            let (addr, port) = (link.addr, link.port);
            if *d.dst.ip() != addr && !d.dst.ip().is_broadcast() {
                continue;
            }
            if d.dst.port() == port {
                self.dhcp(i, &d);
            } else if *d.dst.ip() == addr {
                if let Some(tftp) = self.servers[i].tftp.as_mut() {
                    let mut out = std::mem::take(&mut self.outgoing);
                    tftp.on_datagram_into(
                        self.now,
                        d.src.into(),
                        d.dst.port(),
                        &d.payload,
                        &mut out,
                    );
                    self.tftp_out(i, &mut out, station);
                    self.outgoing = out;
                }
            }
        }
    }

    /// The relay agent forwards a client's DHCP message to each server, unicast, with its
    /// own address in giaddr and hops counted.
    pub(super) fn relay_to_servers(&mut self, relay: Ipv4Addr, d: Datagram) {
        let Ok(mut m) = Message::decode(&d.payload) else {
            return;
        };
        if m.giaddr.is_unspecified() {
            m.giaddr = relay;
        }
        m.hops = m.hops.saturating_add(1);
        let payload = m.encode();
        for i in 0..self.servers.len() {
            let addr = self.servers[i].link.addr;
            let relayed = Datagram::new(
                RELAY_MAC,
                self.servers[i].link.mac,
                SocketAddrV4::new(relay, 67),
                SocketAddrV4::new(addr, self.servers[i].link.port),
                payload.clone(),
            );
            self.dhcp(i, &relayed);
        }
    }

    /// A server's reply to the relay, handed to the client as the relay agent does: to
    /// yiaddr at chaddr, or broadcast when the client asked for it or has no address.
    pub(super) fn relay_to_client(&self, relay: Ipv4Addr, reply: Datagram) -> Datagram {
        let Ok(m) = Message::decode(&reply.payload) else {
            return reply;
        };
        let chaddr = m.client_mac();
        let broadcast = m.flags & 0x8000 != 0 || m.yiaddr.is_unspecified();
        let (ip, mac) = if broadcast {
            (Ipv4Addr::BROADCAST, MacAddr::BROADCAST)
        } else {
            (m.yiaddr, chaddr)
        };
        Datagram::new(
            RELAY_MAC,
            mac,
            SocketAddrV4::new(relay, 67),
            SocketAddrV4::new(ip, 68),
            reply.payload,
        )
    }

    pub(super) fn dhcp(&mut self, index: usize, d: &Datagram) {
        let server_addr = self.servers[index].link.addr;
        let server = &mut self.servers[index];
        let answer = server
            .link
            .answer(&mut server.engine, self.now, &d.to_frame());
        // Leases live in memory here: the changes a shell would write are dropped.
        server.engine.take_changes();
        let note = |silence: Option<String>, xid| ServerNote::Dhcp {
            at: self.now,
            server: index,
            server_addr,
            mac: d.src_mac,
            xid,
            query_type: None,
            reply_type: None,
            classes: Vec::new(),
            silence,
        };
        match answer {
            Ok(FrameAnswer::Reply {
                frame,
                query,
                reply,
                classes,
            }) => {
                let mac = query.client_mac();
                self.note(ServerNote::Dhcp {
                    at: self.now,
                    server: index,
                    server_addr,
                    mac,
                    xid: query.xid,
                    query_type: query.message_type(),
                    reply_type: reply.message_type(),
                    classes: classes.into_names(),
                    silence: None,
                });
                if let Ok(Some(reply)) = Datagram::from_frame(&frame) {
                    let reply = match self.relay {
                        Some(relay) if *reply.dst.ip() == relay => {
                            self.relay_to_client(relay, reply)
                        }
                        _ => reply,
                    };
                    self.send(Towards::Client, reply, None, Duration::ZERO);
                }
            }
            Ok(FrameAnswer::Silent { xid, why, .. }) => {
                let n = note(Some(format!("{why:?}")), xid);
                self.note(n);
            }
            Ok(_) => {}
            Err(e) => {
                let n = note(Some(e.to_string()), 0);
                self.note(n);
            }
        }
    }

    /// Sends what server `index`'s TFTP engine answered (to a packet from `station`, when
    /// known: the answers mostly go back to it), leaving `out` empty for reuse.
    pub(super) fn tftp_out(
        &mut self,
        index: usize,
        out: &mut Vec<Outgoing>,
        station: Option<usize>,
    ) {
        let (mac, addr) = (self.servers[index].link.mac, self.servers[index].link.addr);
        let slow = Duration::from_millis(self.faults.tftp_delay_ms);
        // With a capacity model the worker sends the answers one after another, charged to
        // the worker handling the packet they answer (`lan/workers.rs`; a timer's answers
        // are not charged).
        let send_cost = match (&self.load, index) {
            (Some(load), 0) => {
                let cost = load.capacity.tftp_packet_cost;
                if let Some(charged) = self.charged.as_mut() {
                    *charged += cost * out.len() as u32;
                }
                cost
            }
            _ => Duration::ZERO,
        };
        for (n, o) in out.drain(..).enumerate() {
            // The segment is IPv4: the engine answers the addresses it was given.
            let std::net::SocketAddr::V4(dst) = o.dst else {
                continue;
            };
            let (dst_mac, to) = self
                .neighbours
                .get(dst.ip(), station)
                .unwrap_or((MacAddr::BROADCAST, None));
            let d = Datagram::new(
                mac,
                dst_mac,
                SocketAddrV4::new(addr, o.src_port),
                dst,
                o.packet.into_payload(),
            );
            self.send(Towards::Client, d, to, slow + send_cost * (n as u32 + 1));
        }
        if let Some(tftp) = self.servers[index].tftp.as_mut() {
            for event in tftp.drain_events() {
                self.notes.push(ServerNote::Tftp {
                    at: self.now,
                    event,
                });
            }
        }
    }
}
