//! UDP datagrams as Ethernet frames, the unit every transport and capture deals in.
//!
//! A DHCP client has no address yet, so broadcast, unicast to `chaddr` and the addresses on the
//! IP header are part of the behaviour under test; keeping whole frames lets the in-memory hub,
//! AF_PACKET sockets and pcap files carry the same bytes. Checksums and layouts come from
//! etherparse (DESIGN.md: frames are not hand-rolled).

use std::net::{Ipv4Addr, SocketAddrV4};

use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice};

use super::payload::Payload;
use super::MacAddr;

pub const BROADCAST_MAC: MacAddr = MacAddr::BROADCAST;

/// A UDP datagram with its link-layer and network-layer addressing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub src_mac: MacAddr,
    pub dst_mac: MacAddr,
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    /// IPv4 TTL; 64 unless a capture says otherwise.
    pub ttl: u8,
    /// Its own bytes, or a TFTP DATA packet shared with other transfers of the file.
    pub payload: Payload,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("malformed frame: {0}")]
    Malformed(String),
}

impl Datagram {
    pub fn new(
        src_mac: MacAddr,
        dst_mac: MacAddr,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        payload: impl Into<Payload>,
    ) -> Self {
        Datagram {
            src_mac,
            dst_mac,
            src,
            dst,
            ttl: 64,
            payload: payload.into(),
        }
    }

    /// Ethernet II + IPv4 + UDP, with the IPv4 and UDP checksums filled in.
    pub fn to_frame(&self) -> Vec<u8> {
        let builder = PacketBuilder::ethernet2(self.src_mac.octets(), self.dst_mac.octets())
            .ipv4(self.src.ip().octets(), self.dst.ip().octets(), self.ttl)
            .udp(self.src.port(), self.dst.port());
        let mut out = Vec::with_capacity(builder.size(self.payload.len()));
        builder
            .write(&mut out, &self.payload)
            .expect("writing into a Vec cannot fail");
        out
    }

    /// The datagram in an Ethernet frame; `Ok(None)` for frames that are not IPv4/UDP (ARP,
    /// IPv6, TCP), which transports pass over.
    pub fn from_frame(frame: &[u8]) -> Result<Option<Datagram>, FrameError> {
        let sliced =
            SlicedPacket::from_ethernet(frame).map_err(|e| FrameError::Malformed(e.to_string()))?;
        let Some(link) = sliced.link.as_ref() else {
            return Ok(None);
        };
        let etherparse::LinkSlice::Ethernet2(eth) = link else {
            return Ok(None);
        };
        let Some(NetSlice::Ipv4(ipv4)) = &sliced.net else {
            return Ok(None);
        };
        let Some(TransportSlice::Udp(udp)) = &sliced.transport else {
            return Ok(None);
        };
        let header = ipv4.header();
        Ok(Some(Datagram {
            src_mac: MacAddr(eth.source()),
            dst_mac: MacAddr(eth.destination()),
            src: SocketAddrV4::new(Ipv4Addr::from(header.source()), udp.source_port()),
            dst: SocketAddrV4::new(Ipv4Addr::from(header.destination()), udp.destination_port()),
            ttl: header.ttl(),
            payload: udp.payload().into(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_discover_broadcast_round_trips_through_a_frame() {
        let d = Datagram::new(
            MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]),
            BROADCAST_MAC,
            SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
            SocketAddrV4::new(Ipv4Addr::BROADCAST, 67),
            vec![1, 2, 3],
        );
        let frame = d.to_frame();
        assert_eq!(frame.len(), 14 + 20 + 8 + 3);
        assert_eq!(&frame[12..14], &[0x08, 0x00]);
        assert_eq!(Datagram::from_frame(&frame).unwrap(), Some(d));
    }

    #[test]
    fn non_udp_frames_are_passed_over_and_garbage_is_an_error() {
        let mut arp = vec![0xff; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0; 28]);
        assert_eq!(Datagram::from_frame(&arp).unwrap(), None);
        assert!(Datagram::from_frame(&[1, 2, 3]).is_err());
    }
}
