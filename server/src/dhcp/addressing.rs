//! Where a reply goes: RFC 2131 section 4.1 as Kea implements it
//! (Kea-2.2.0 `src/bin/dhcp4/dhcp4_srv.cc`: `Dhcpv4Srv::adjustRemoteAddr` for the address,
//! `adjustIfaceData` for the port, `checkRelayPort` for RFC 8357; `Pkt4::isRelayed`).
//!
//! A client without an address cannot answer ARP, so "unicast to yiaddr" means an IP packet to
//! yiaddr inside an Ethernet frame addressed to `chaddr`: only a transport that writes frames
//! (AF_PACKET, the in-memory hub) can do it. Kea asks `IfaceMgr::isDirectResponseSupported()`
//! and broadcasts otherwise; `direct_response` carries that answer here.

use std::net::{Ipv4Addr, SocketAddrV4};

pub const SERVER_PORT: u16 = 67;
pub const CLIENT_PORT: u16 = 68;
/// RFC 2132 section 9.6.
pub const DHCPINFORM: u8 = 8;
pub const DHCPNAK: u8 = 6;
/// The broadcast bit of `flags` (RFC 2131 figure 2).
pub const BROADCAST_FLAG: u16 = 0x8000;

/// What of the query decides where its reply goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query {
    pub message_type: u8,
    pub ciaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    pub flags: u16,
    /// The query's source address and port as received.
    pub source: SocketAddrV4,
    /// The relay included the RFC 8357 relay-port sub-option (82.19).
    pub relay_port_option: bool,
}

impl Query {
    /// Kea's `Pkt4::isRelayed`: giaddr set and not the broadcast address.
    pub fn is_relayed(&self) -> bool {
        !self.giaddr.is_unspecified() && !self.giaddr.is_broadcast()
    }
}

/// How the reply leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Destination {
    /// IP destination and UDP port.
    pub to: SocketAddrV4,
    /// Deliver the frame to the client's hardware address rather than to the IP destination's
    /// (unicast to a client that has no address yet).
    pub to_chaddr: bool,
    /// Flags to put in the reply (Kea sets the broadcast bit for relayed INFORMs without ciaddr).
    pub flags: u16,
}

/// The destination of the reply to `query`, whose reply type is `reply_type` and whose
/// `yiaddr` is `yiaddr`.
pub fn destination(
    query: &Query,
    reply_type: u8,
    yiaddr: Ipv4Addr,
    direct_response: bool,
) -> Destination {
    let mut flags = query.flags;
    let mut to_chaddr = false;
    let ip = if query.message_type == DHCPINFORM {
        if !query.ciaddr.is_unspecified() {
            query.ciaddr
        } else if query.is_relayed() {
            flags |= BROADCAST_FLAG;
            query.giaddr
        } else {
            *query.source.ip()
        }
    } else if query.is_relayed() {
        query.giaddr
    } else if !query.ciaddr.is_unspecified() {
        query.ciaddr
    } else if reply_type == DHCPNAK {
        Ipv4Addr::BROADCAST
    } else if !yiaddr.is_unspecified() {
        if !direct_response || query.flags & BROADCAST_FLAG != 0 {
            Ipv4Addr::BROADCAST
        } else {
            to_chaddr = true;
            yiaddr
        }
    } else {
        *query.source.ip()
    };

    // adjustIfaceData: INFORM with ciaddr, or an unrelayed INFORM from a real address, and
    // every unrelayed non-INFORM go to the client port; the rest to the relay (RFC 8357 port
    // when the relay asked for it).
    let informs_client = query.message_type == DHCPINFORM
        && (!query.ciaddr.is_unspecified()
            || (!query.is_relayed() && !query.source.ip().is_unspecified()));
    let port = if informs_client || (query.message_type != DHCPINFORM && !query.is_relayed()) {
        CLIENT_PORT
    } else if query.relay_port_option {
        query.source.port()
    } else {
        SERVER_PORT
    };
    Destination {
        to: SocketAddrV4::new(ip, port),
        to_chaddr,
        flags,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DISCOVER: u8 = 1;
    const REQUEST: u8 = 3;
    const OFFER: u8 = 2;
    const ACK: u8 = 5;

    fn query(message_type: u8) -> Query {
        Query {
            message_type,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::UNSPECIFIED,
            flags: 0,
            source: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
            relay_port_option: false,
        }
    }

    const YI: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 2);

    #[test]
    fn broadcast_flag_means_broadcast() {
        // EDK2 always sets it (firmware.md A.2).
        let q = Query {
            flags: BROADCAST_FLAG,
            ..query(DISCOVER)
        };
        let d = destination(&q, OFFER, YI, true);
        assert_eq!(d.to, SocketAddrV4::new(Ipv4Addr::BROADCAST, 68));
        assert!(!d.to_chaddr);
    }

    #[test]
    fn no_flag_unicasts_to_chaddr_when_the_transport_can() {
        let d = destination(&query(DISCOVER), OFFER, YI, true);
        assert_eq!(d.to, SocketAddrV4::new(YI, 68));
        assert!(d.to_chaddr);
        let d = destination(&query(DISCOVER), OFFER, YI, false);
        assert_eq!(d.to, SocketAddrV4::new(Ipv4Addr::BROADCAST, 68));
    }

    #[test]
    fn relayed_goes_to_giaddr_port_67_even_for_nak() {
        let relay = Ipv4Addr::new(10, 0, 0, 1);
        let q = Query {
            giaddr: relay,
            source: SocketAddrV4::new(relay, 67),
            ..query(REQUEST)
        };
        assert_eq!(
            destination(&q, DHCPNAK, Ipv4Addr::UNSPECIFIED, true).to,
            SocketAddrV4::new(relay, 67)
        );
        let q = Query {
            relay_port_option: true,
            source: SocketAddrV4::new(relay, 3067),
            ..q
        };
        assert_eq!(
            destination(&q, ACK, YI, true).to,
            SocketAddrV4::new(relay, 3067)
        );
    }

    #[test]
    fn renewing_client_gets_unicast_to_ciaddr_and_nak_is_broadcast() {
        let q = Query {
            ciaddr: YI,
            ..query(REQUEST)
        };
        assert_eq!(destination(&q, ACK, YI, true).to, SocketAddrV4::new(YI, 68));
        let d = destination(&query(REQUEST), DHCPNAK, Ipv4Addr::UNSPECIFIED, true);
        assert_eq!(d.to, SocketAddrV4::new(Ipv4Addr::BROADCAST, 68));
    }

    #[test]
    fn relayed_inform_without_ciaddr_sets_the_broadcast_flag() {
        let relay = Ipv4Addr::new(10, 0, 0, 1);
        let q = Query {
            giaddr: relay,
            ..query(DHCPINFORM)
        };
        let d = destination(&q, ACK, Ipv4Addr::UNSPECIFIED, true);
        assert_eq!(d.to, SocketAddrV4::new(relay, 67));
        assert_eq!(d.flags & BROADCAST_FLAG, BROADCAST_FLAG);
    }
}
