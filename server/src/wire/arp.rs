//! ARP for IPv4 over Ethernet (RFC 826), the one kind boot networks carry, in the two faces
//! smoltcp's wire modules have: [`ArpRepr::parse`] reads a whole Ethernet frame by field
//! and [`ArpRepr::emit`] writes one. etherparse 0.16, the locked version, has no ARP type
//! (0.17's `ArpPacket`), so this is ours.

use std::net::Ipv4Addr;

use super::mac::MacAddr;

pub const ETHERTYPE_ARP: u16 = 0x0806;
/// Ethernet header (14) and an Ethernet/IPv4 ARP body (28).
pub const FRAME_LEN: usize = 42;

/// ARP's `oper`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Request,
    Reply,
}

/// One Ethernet/IPv4 ARP message and the Ethernet addresses it travelled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpRepr {
    pub eth_dst: MacAddr,
    pub eth_src: MacAddr,
    pub operation: Operation,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
}

/// The fixed part of an Ethernet/IPv4 ARP body: htype 1, ptype 0x0800, hlen 6, plen 4.
const ETHERNET_IPV4: [u8; 6] = [0, 1, 0x08, 0x00, 6, 4];

fn mac_at(bytes: &[u8], at: usize) -> MacAddr {
    let mut octets = [0u8; 6];
    octets.copy_from_slice(&bytes[at..at + 6]);
    MacAddr(octets)
}

fn ipv4_at(bytes: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3])
}

impl ArpRepr {
    /// Reads an Ethernet frame; None when it is not Ethernet/IPv4 ARP with a known `oper`
    /// (trailing padding is allowed: short frames are padded to 60 bytes).
    pub fn parse(frame: &[u8]) -> Option<ArpRepr> {
        if frame.len() < FRAME_LEN || frame[12..14] != ETHERTYPE_ARP.to_be_bytes() {
            return None;
        }
        let body = &frame[14..FRAME_LEN];
        if body[0..6] != ETHERNET_IPV4 {
            return None;
        }
        let operation = match u16::from_be_bytes([body[6], body[7]]) {
            1 => Operation::Request,
            2 => Operation::Reply,
            _ => return None,
        };
        Some(ArpRepr {
            eth_dst: mac_at(frame, 0),
            eth_src: mac_at(frame, 6),
            operation,
            sender_mac: mac_at(body, 8),
            sender_ip: ipv4_at(body, 14),
            target_mac: mac_at(body, 18),
            target_ip: ipv4_at(body, 24),
        })
    }

    /// The 42-byte frame.
    pub fn emit(&self) -> Vec<u8> {
        let mut f = Vec::with_capacity(FRAME_LEN);
        f.extend_from_slice(&self.eth_dst.octets());
        f.extend_from_slice(&self.eth_src.octets());
        f.extend_from_slice(&ETHERTYPE_ARP.to_be_bytes());
        f.extend_from_slice(&ETHERNET_IPV4);
        let oper: u16 = match self.operation {
            Operation::Request => 1,
            Operation::Reply => 2,
        };
        f.extend_from_slice(&oper.to_be_bytes());
        f.extend_from_slice(&self.sender_mac.octets());
        f.extend_from_slice(&self.sender_ip.octets());
        f.extend_from_slice(&self.target_mac.octets());
        f.extend_from_slice(&self.target_ip.octets());
        f
    }

    /// The reply to this request from the machine that has its target address at `mac`,
    /// sent straight to the asker.
    pub fn reply_from(&self, mac: MacAddr) -> ArpRepr {
        ArpRepr {
            eth_dst: self.sender_mac,
            eth_src: mac,
            operation: Operation::Reply,
            sender_mac: mac,
            sender_ip: self.target_ip,
            target_mac: self.sender_mac,
            target_ip: self.sender_ip,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request from 52:54:00:12:34:56 (192.168.1.2) for 192.168.1.1, as OVMF's ArpDxe
    /// sends it before the TFTP read.
    fn request() -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x08, 0x06]);
        f.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&[0x52, 0x54, 0, 0x12, 0x34, 0x56, 192, 168, 1, 2]);
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&[192, 168, 1, 1]);
        f
    }

    #[test]
    fn a_request_is_read_by_field_and_answered_byte_for_byte() {
        let mut padded = request();
        padded.resize(60, 0);
        let r = ArpRepr::parse(&padded).unwrap();
        assert_eq!(r.operation, Operation::Request);
        assert_eq!(r.sender_mac.to_string(), "52:54:00:12:34:56");
        assert_eq!(r.sender_ip, Ipv4Addr::new(192, 168, 1, 2));
        assert_eq!(r.target_ip, Ipv4Addr::new(192, 168, 1, 1));
        assert_eq!(r.emit(), request(), "emit is parse's inverse");
        let reply = r.reply_from(MacAddr([2, 0, 0x5e, 0, 0, 1])).emit();
        assert_eq!(reply.len(), 42);
        assert_eq!(&reply[..6], &[0x52, 0x54, 0, 0x12, 0x34, 0x56]);
        assert_eq!(&reply[20..22], &[0, 2], "oper is reply");
        assert_eq!(&reply[22..28], &[2, 0, 0x5e, 0, 0, 1]);
        assert_eq!(&reply[28..32], &[192, 168, 1, 1]);
        assert_eq!(&reply[32..38], &[0x52, 0x54, 0, 0x12, 0x34, 0x56]);
        assert_eq!(&reply[38..42], &[192, 168, 1, 2]);
    }

    #[test]
    fn other_hardware_operations_and_runts_are_not_arp_here() {
        let mut ieee802 = request();
        ieee802[15] = 6;
        let mut rarp = request();
        rarp[21] = 3;
        let mut ipv4 = request();
        ipv4[13] = 0;
        for f in [ieee802, rarp, ipv4, request()[..41].to_vec()] {
            assert_eq!(ArpRepr::parse(&f), None);
        }
    }
}
