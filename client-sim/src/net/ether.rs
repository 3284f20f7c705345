//! What an Ethernet frame from a real machine is to the segment: a UDP datagram (DHCP, TFTP)
//! the segment carries, an ARP request someone must answer, or other traffic (IPv6 router
//! solicitations and neighbour discovery, which real EDK2 and iPXE send too) that netbootd
//! does not speak and that is counted and dropped.
//!
//! ARP is `netbootd::wire::arp`. Shared by `iface` (AF_PACKET, answering for the models)
//! and `realtime` (QEMU's frames, answering for the server).

use netbootd::wire::arp::{ArpRepr, Operation, ETHERTYPE_ARP};
use netbootd::wire::frame::Datagram;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;

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
    /// An ARP request: who has `target_ip`?
    Arp(ArpRepr),
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
        Some(ETHERTYPE_ARP) => match ArpRepr::parse(frame) {
            Some(r) if r.operation == Operation::Request => Inbound::Arp(r),
            _ => Inbound::Ignored(Kind::Arp),
        },
        Some(ETHERTYPE_IPV6) => Inbound::Ignored(Kind::Ipv6),
        _ => Inbound::Ignored(Kind::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request from 52:54:00:12:34:56 (192.168.1.2) for 192.168.1.1.
    fn request() -> Vec<u8> {
        let asker = netbootd::wire::MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
        ArpRepr {
            eth_dst: netbootd::wire::MacAddr::BROADCAST,
            eth_src: asker,
            operation: Operation::Request,
            sender_mac: asker,
            sender_ip: [192, 168, 1, 2].into(),
            target_mac: Default::default(),
            target_ip: [192, 168, 1, 1].into(),
        }
        .emit()
    }

    #[test]
    fn an_arp_request_is_one_to_answer() {
        let Inbound::Arp(r) = classify(&request()) else {
            panic!("not read as ARP");
        };
        assert_eq!(r.target_ip, std::net::Ipv4Addr::new(192, 168, 1, 1));
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
