//! An AF_PACKET socket on one interface: Kea's `dhcp-socket-type: raw` (its default for
//! DHCPv4, PktFilterLPF). Whole Ethernet frames in and out, so a reply can go to a client's
//! hardware address before it has an IP address, and a client with no address at all
//! (source 0.0.0.0) is heard whatever the interface's routes say.
//!
//! As Kea does, a UDP socket is bound to the same port and interface alongside (never read):
//! it keeps other programs off the port and stops the kernel from answering unicast DHCP
//! traffic with ICMP port-unreachable. Frames are filtered in user space (IPv4/UDP to our
//! port) rather than with Kea's BPF program: on a boot network the extra wake-ups are cheap.

use std::io;

use super::udp::{bind_std, interface_ipv4};
use crate::wire::packet_socket::{interface_mac, PacketSocket, Protocol};
use crate::wire::MacAddr;

pub struct RawPort {
    fd: PacketSocket,
    pub iface: String,
    /// The interface's IPv4 address and hardware address.
    pub addr: std::net::Ipv4Addr,
    pub mac: MacAddr,
    /// The UDP port the frames are filtered for.
    pub port: u16,
    /// Held, never read: see the module comment.
    _reserved: std::net::UdpSocket,
}

impl RawPort {
    pub fn bind(iface: &str, port: u16) -> io::Result<RawPort> {
        let (addr, _) = interface_ipv4(iface).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!("interface {iface} has no IPv4 address"),
            )
        })?;
        let mac = interface_mac(iface)?;
        let socket = PacketSocket::open(iface, Protocol::Ipv4)?.ignore_outgoing();
        let (reserved, _) = bind_std(iface, port)?;
        super::block_for_serving(&socket)?;
        Ok(RawPort {
            fd: socket,
            iface: iface.to_string(),
            addr,
            mac,
            port,
            _reserved: reserved,
        })
    }

    /// The socket (blocking on receive, as [`super::block_for_serving`] set it), for a
    /// caller that takes frames in batches (recvmmsg).
    pub fn socket(&self) -> &PacketSocket {
        &self.fd
    }

    /// Sends a whole Ethernet frame out of the interface.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        self.fd.send(frame)
    }
}
