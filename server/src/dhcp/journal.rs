//! The DHCPv4 service's log lines, with Kea's message IDs, loggers, severities and texts
//! (src/bin/dhcp4/dhcp4_messages.mes, src/lib/dhcpsrv/alloc_engine_messages.mes), so that a
//! Kea operator's grep for `DHCP4_LEASE_ALLOC` or alert on `ALLOC_ENGINE_V4_ALLOC_FAIL` keeps
//! working. Each client is named as Kea's Pkt4::getLabel names it.

use std::net::SocketAddrV4;

use super::engine::{Silence, ACK, DECLINE, DISCOVER, INFORM, NAK, OFFER, RELEASE, REQUEST};
use super::lease::hex_colons;
use crate::wire::dhcp::Message;

/// `[hwtype=1 52:54:00:00:00:05], cid=[01:52:...], tid=0x1d2c` (Pkt4::makeLabel).
pub fn label(msg: &Message) -> String {
    let cid = msg
        .option(61)
        .map_or_else(|| "no info".to_string(), |c| hex_colons(&c));
    format!(
        "[hwtype={} {}], cid=[{cid}], tid=0x{:x}",
        msg.htype,
        hex_colons(msg.hwaddr()),
        msg.xid
    )
}

/// `DHCPDISCOVER (type 1)`, as Pkt4::getName with the type.
fn kind(msg: &Message) -> String {
    let t = msg.message_type();
    let name = match t {
        Some(DISCOVER) => "DHCPDISCOVER",
        Some(OFFER) => "DHCPOFFER",
        Some(REQUEST) => "DHCPREQUEST",
        Some(DECLINE) => "DHCPDECLINE",
        Some(ACK) => "DHCPACK",
        Some(NAK) => "DHCPNAK",
        Some(RELEASE) => "DHCPRELEASE",
        Some(INFORM) => "DHCPINFORM",
        _ => "UNKNOWN",
    };
    format!("{name} (type {})", t.unwrap_or(0))
}

/// A query arrived (DHCP4_PACKET_RECEIVED, debug).
pub fn received(query: &Message, from: SocketAddrV4, to: impl std::fmt::Display, iface: &str) {
    tracing::debug!(
        logger = "kea-dhcp4.packets",
        id = "DHCP4_PACKET_RECEIVED",
        "{}: {} received from {} to {to} on interface {iface}",
        label(query),
        kind(query),
        from.ip()
    );
}

/// The engine answered: classes (debug), the lease offered or allocated (info), the send
/// (debug).
pub fn answered(
    query: &Message,
    reply: &Message,
    classes: &crate::kea::expr::ClassSet,
    from: impl std::fmt::Display,
    to: impl std::fmt::Display,
    iface: &str,
) {
    // Every line below is INFO or DEBUG: the label is built only when one is wanted.
    if !tracing::enabled!(tracing::Level::INFO) {
        return;
    }
    let l = label(query);
    if !classes.is_empty() {
        tracing::debug!(
            logger = "kea-dhcp4.dhcp4",
            id = "DHCP4_CLASS_ASSIGNED",
            "{l}: client packet has been assigned to the following class(es): {}",
            classes.join(", ")
        );
    }
    match reply.message_type() {
        Some(OFFER) => tracing::info!(
            logger = "kea-dhcp4.leases",
            id = "DHCP4_LEASE_ADVERT",
            "{l}: lease {} will be advertised",
            reply.yiaddr
        ),
        Some(ACK) if !reply.yiaddr.is_unspecified() => {
            let lifetime = reply
                .option(51)
                .filter(|v| v.len() == 4)
                .map_or(0, |v| u32::from_be_bytes([v[0], v[1], v[2], v[3]]));
            tracing::info!(
                logger = "kea-dhcp4.leases",
                id = "DHCP4_LEASE_ALLOC",
                "{l}: lease {} has been allocated for {lifetime} seconds",
                reply.yiaddr
            );
        }
        Some(NAK) => {
            let requested = query.option(50).filter(|v| v.len() == 4).map_or_else(
                || "(no address)".to_string(),
                |v| std::net::Ipv4Addr::new(v[0], v[1], v[2], v[3]).to_string(),
            );
            tracing::debug!(
                logger = "kea-dhcp4.leases",
                id = "DHCP4_PACKET_NAK_0004",
                "{l}: failed to grant a lease, client sent ciaddr {}, requested-ip-address {requested}",
                query.ciaddr
            );
        }
        _ => {}
    }
    tracing::debug!(
        logger = "kea-dhcp4.packets",
        id = "DHCP4_PACKET_SEND",
        "{l}: trying to send packet {} from {from} to {to} on interface {iface}",
        kind(reply)
    );
}

/// The engine stayed silent, and why, as Kea logs each reason.
pub fn silent(query: &Message, why: &Silence) {
    let l = label(query);
    match why {
        Silence::NoAddress => tracing::warn!(
            logger = "kea-dhcp4.alloc-engine",
            id = "ALLOC_ENGINE_V4_ALLOC_FAIL",
            "{l}: failed to allocate an IPv4 address"
        ),
        Silence::NoSubnet => tracing::debug!(
            logger = "kea-dhcp4.dhcp4",
            id = "DHCP4_SUBNET_SELECTION_FAILED",
            "{l}: failed to select subnet for the client"
        ),
        Silence::OtherServer(server) => tracing::debug!(
            logger = "kea-dhcp4.packets",
            id = "DHCP4_PACKET_DROP_0002",
            "{l}, interface: (unknown): packet dropped, as it is not addressed to this server (server identifier {server})"
        ),
        Silence::NoReplyExpected if query.message_type() == Some(RELEASE) => tracing::info!(
            logger = "kea-dhcp4.leases",
            id = "DHCP4_RELEASE",
            "{l}: address {} was released properly.",
            query.ciaddr
        ),
        Silence::NoReplyExpected => {}
        // Kea's words (dhcp4_messages.mes); its levels: a stray RELEASE is debug, a stray
        // DECLINE a warning (an address conflict someone should look at).
        Silence::NotOwned { address, leased } => match (query.message_type(), leased) {
            (Some(RELEASE), false) => tracing::debug!(
                logger = "kea-dhcp4.leases",
                id = "DHCP4_RELEASE_FAIL_NO_LEASE",
                "{l}: client is trying to release non-existing lease {address}"
            ),
            (Some(RELEASE), true) => tracing::debug!(
                logger = "kea-dhcp4.leases",
                id = "DHCP4_RELEASE_FAIL_WRONG_CLIENT",
                "{l}: client is trying to release the lease {address} which belongs to a different client"
            ),
            (_, false) => tracing::warn!(
                logger = "kea-dhcp4.dhcp4",
                id = "DHCP4_DECLINE_LEASE_NOT_FOUND",
                "Received DHCPDECLINE for addr {address} from client {l}, but no such lease found."
            ),
            (_, true) => tracing::warn!(
                logger = "kea-dhcp4.dhcp4",
                id = "DHCP4_DECLINE_LEASE_MISMATCH",
                "Received DHCPDECLINE for addr {address}, but the data doesn't match: {l} does not hold it"
            ),
        },
        other => tracing::debug!(
            logger = "kea-dhcp4.packets",
            id = "DHCP4_PACKET_DROP_0001",
            "{l}: packet dropped: {other:?}"
        ),
    }
}

/// A datagram that does not parse (DHCP4_PACKET_DROP_0001, debug).
pub fn parse_failed(from: impl std::fmt::Display, iface: &str, reason: &str) {
    tracing::debug!(
        logger = "kea-dhcp4.bad-packets",
        id = "DHCP4_PACKET_DROP_0001",
        "failed to parse packet from {from} to (this server), received over interface {iface}, reason: {reason}"
    );
}

/// A configuration is in force (DHCP4_CONFIG_COMPLETE, at start, reload and config-set).
pub fn config_complete(config: &crate::kea::model::Config) {
    tracing::info!(
        logger = "kea-dhcp4.dhcp4",
        id = "DHCP4_CONFIG_COMPLETE",
        "DHCPv4 server has completed configuration: added IPv4 subnets: {}; DDNS: disabled",
        config.subnets.len()
    );
}
