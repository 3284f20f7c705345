//! The engine at the link layer: Ethernet frames in, Ethernet frames out. This is the
//! in-memory port (bootsim runs netbootd in-process through it, on its virtual clock) and the
//! core of the AF_PACKET transport (Kea's `dhcp-socket-type: raw`, its default).
//!
//! Seeing whole frames is what lets a server answer a client that has no address yet: the
//! reply to a DISCOVER without the broadcast flag goes to yiaddr at chaddr, with no ARP. The
//! link-layer destination follows Kea (PktFilterLPF::send writes the packet's remote hardware
//! address; Dhcpv4Srv::adjustIfaceData sets it to chaddr when unicasting to yiaddr and
//! otherwise keeps the query's source hardware address, the relay's or the client's).

use std::net::{Ipv4Addr, SocketAddrV4};

use super::engine::{Engine, EngineError, Incoming, Outcome, Silence};
use crate::time::Instant;
use crate::wire::dhcp::Message;
use crate::wire::frame::{Datagram, BROADCAST_MAC};
use crate::wire::MacAddr;

/// The server's side of one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub iface: std::sync::Arc<str>,
    pub addr: Ipv4Addr,
    pub mac: MacAddr,
    /// The UDP port DHCP is served on (67).
    pub port: u16,
}

/// What became of one frame.
#[derive(Debug)]
pub enum FrameAnswer {
    /// Not a DHCP request to this server's port (ARP, other traffic, a reply).
    NotForUs,
    /// A frame or DHCP message that does not parse; counted and logged, never fatal.
    Malformed(String),
    Silent {
        xid: u32,
        /// The query's message type.
        kind: Option<u8>,
        why: Silence,
        query: Box<Message>,
    },
    Reply {
        frame: Vec<u8>,
        /// The query and the reply as the engine saw and wrote them (for transcripts).
        query: Box<Message>,
        reply: Box<Message>,
        classes: crate::kea::expr::ClassSet,
    },
}

impl Link {
    /// Answers one frame received on this link at `now`.
    pub fn answer(
        &self,
        engine: &mut Engine,
        now: Instant,
        frame: &[u8],
    ) -> Result<FrameAnswer, EngineError> {
        let datagram = match Datagram::from_frame(frame) {
            Ok(Some(d)) => d,
            Ok(None) => return Ok(FrameAnswer::NotForUs),
            Err(e) => return Ok(FrameAnswer::Malformed(e.to_string())),
        };
        if datagram.dst.port() != self.port || datagram.src_mac == self.mac {
            return Ok(FrameAnswer::NotForUs);
        }
        let dst_ip = *datagram.dst.ip();
        if dst_ip != Ipv4Addr::BROADCAST && dst_ip != self.addr {
            return Ok(FrameAnswer::NotForUs);
        }
        let msg = match Message::decode(&datagram.payload) {
            Ok(m) if m.op == 1 => Box::new(m),
            Ok(_) => return Ok(FrameAnswer::NotForUs),
            Err(e) => return Ok(FrameAnswer::Malformed(e.to_string())),
        };
        let incoming = Incoming {
            msg,
            len: datagram.payload.len(),
            iface: self.iface.clone(),
            iface_addr: self.addr,
            source: datagram.src,
            destination: dst_ip,
            direct_response: true,
        };
        match engine.handle(now, &incoming)? {
            Outcome::Silent(why) => Ok(FrameAnswer::Silent {
                xid: incoming.msg.xid,
                kind: incoming.msg.message_type(),
                why,
                query: incoming.msg,
            }),
            Outcome::Reply {
                msg, dest, classes, ..
            } => {
                let dst_mac = if dest.to_chaddr {
                    msg.client_mac()
                } else if *dest.to.ip() == Ipv4Addr::BROADCAST {
                    BROADCAST_MAC
                } else {
                    datagram.src_mac
                };
                let reply_frame = Datagram::new(
                    self.mac,
                    dst_mac,
                    SocketAddrV4::new(self.addr, self.port),
                    dest.to,
                    msg.encode(),
                )
                .to_frame();
                Ok(FrameAnswer::Reply {
                    frame: reply_frame,
                    query: incoming.msg,
                    reply: msg,
                    classes,
                })
            }
        }
    }
}
