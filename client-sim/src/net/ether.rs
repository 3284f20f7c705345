//! What an Ethernet frame from a real machine is to the segment: a UDP datagram (DHCP, TFTP)
//! the segment carries, an ARP request someone must answer, or other traffic (IPv6 router
//! solicitations and neighbour discovery, which real EDK2 and iPXE send too) that netbootd
//! does not speak and that is counted and dropped.
//!
//! ARP (RFC 826) is read and written here by field, for Ethernet/IPv4 only: etherparse 0.16
//! has no ARP packet type (0.17 has `ArpPacket`). Shared by `iface` (AF_PACKET, answering for
//! the models) and `realtime` (QEMU's frames, answering for the server).

use std::net::Ipv4Addr;

use netbootd::wire::frame::Datagram;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_ARP: u16 = 0x0806;
const ETHERTYPE_IPV6: u16 = 0x86dd;

/// An ARP request: who has `target`? Tell `sender_ip` at `sender_mac`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpRequest {
    pub sender_mac: [u8; 6],
    pub sender_ip: Ipv4Addr,
    pub target: Ipv4Addr,
}

/// Frames the segment does not carry, by kind, for the run's report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Ignored {
    pub ipv6: u64,
    /// ARP replies, gratuitous ARP, requests for addresses nobody here has.
    pub arp: u64,
    /// IPv4 that is not UDP (ICMP, TCP).
    pub ipv4_other: u64,
    /// Other EtherTypes and frames too short or malformed to read.
    pub other: u64,
}

/// Which counter of [`Ignored`] a frame goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ipv6,
    Arp,
    Ipv4Other,
    Other,
}

impl Ignored {
    pub fn count(&mut self, kind: Kind) {
        match kind {
            Kind::Ipv6 => self.ipv6 += 1,
            Kind::Arp => self.arp += 1,
            Kind::Ipv4Other => self.ipv4_other += 1,
            Kind::Other => self.other += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.ipv6 + self.arp + self.ipv4_other + self.other
    }
}

/// What one frame is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    Udp(Datagram),
    Arp(ArpRequest),
    /// Counted where it fits in [`Ignored`].
    Ignored(Kind),
}

fn ethertype(frame: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]))
}

/// Reads one frame.
pub fn classify(frame: &[u8]) -> Inbound {
    match ethertype(frame) {
        Some(ETHERTYPE_IPV4) => match Datagram::from_frame(frame) {
            Ok(Some(d)) => Inbound::Udp(d),
            Ok(None) => Inbound::Ignored(Kind::Ipv4Other),
            Err(_) => Inbound::Ignored(Kind::Other),
        },
        Some(ETHERTYPE_ARP) => match arp_request(frame) {
            Some(r) => Inbound::Arp(r),
            None => Inbound::Ignored(Kind::Arp),
        },
        Some(ETHERTYPE_IPV6) => Inbound::Ignored(Kind::Ipv6),
        _ => Inbound::Ignored(Kind::Other),
    }
}

/// An Ethernet/IPv4 ARP request (htype 1, ptype 0x0800, hlen 6, plen 4, oper 1).
pub fn arp_request(frame: &[u8]) -> Option<ArpRequest> {
    if frame.len() < 42 || ethertype(frame) != Some(ETHERTYPE_ARP) {
        return None;
    }
    let arp = &frame[14..42];
    if arp[0..6] != [0, 1, 0x08, 0x00, 6, 4] || arp[6..8] != [0, 1] {
        return None;
    }
    let mut sender_mac = [0u8; 6];
    sender_mac.copy_from_slice(&arp[8..14]);
    let ip = |b: &[u8]| Ipv4Addr::new(b[0], b[1], b[2], b[3]);
    Some(ArpRequest {
        sender_mac,
        sender_ip: ip(&arp[14..18]),
        target: ip(&arp[24..28]),
    })
}

/// The reply to `request` from the machine that has its target address at `mac`.
pub fn arp_reply(request: &ArpRequest, mac: [u8; 6]) -> Vec<u8> {
    let mut r = Vec::with_capacity(42);
    r.extend_from_slice(&request.sender_mac);
    r.extend_from_slice(&mac);
    r.extend_from_slice(&ETHERTYPE_ARP.to_be_bytes());
    r.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 2]);
    r.extend_from_slice(&mac);
    r.extend_from_slice(&request.target.octets());
    r.extend_from_slice(&request.sender_mac);
    r.extend_from_slice(&request.sender_ip.octets());
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Vec<u8> {
        // A request from 52:54:00:12:34:56 (192.168.1.2) for 192.168.1.1, as OVMF's ArpDxe
        // sends it before the TFTP read.
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x08, 0x06]);
        f.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&[0x52, 0x54, 0, 0x12, 0x34, 0x56, 192, 168, 1, 2]);
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&[192, 168, 1, 1]);
        f
    }

    #[test]
    fn an_arp_request_is_read_and_answered_byte_for_byte() {
        let Inbound::Arp(r) = classify(&request()) else {
            panic!("not read as ARP");
        };
        assert_eq!(r.target, Ipv4Addr::new(192, 168, 1, 1));
        assert_eq!(r.sender_ip, Ipv4Addr::new(192, 168, 1, 2));
        let reply = arp_reply(&r, [2, 0, 0x5e, 0, 0, 1]);
        assert_eq!(reply.len(), 42);
        assert_eq!(&reply[..6], &[0x52, 0x54, 0, 0x12, 0x34, 0x56]);
        assert_eq!(&reply[20..22], &[0, 2], "oper is reply");
        assert_eq!(&reply[22..28], &[2, 0, 0x5e, 0, 0, 1]);
        assert_eq!(&reply[28..32], &[192, 168, 1, 1]);
        assert_eq!(&reply[38..42], &[192, 168, 1, 2]);
    }

    #[test]
    fn ipv6_arp_replies_and_runts_are_counted_not_carried() {
        let mut counts = Ignored::default();
        let mut v6 = vec![
            0x33, 0x33, 0, 0, 0, 2, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x86, 0xdd,
        ];
        v6.extend_from_slice(&[0x60; 40]);
        let mut reply = request();
        reply[21] = 2;
        for f in [v6, reply, vec![1, 2, 3]] {
            match classify(&f) {
                Inbound::Ignored(kind) => counts.count(kind),
                other => panic!("carried: {other:?}"),
            }
        }
        assert_eq!(
            counts,
            Ignored {
                ipv6: 1,
                arp: 1,
                ipv4_other: 0,
                other: 1
            }
        );
    }
}
