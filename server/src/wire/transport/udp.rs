//! A UDP socket bound to one interface (SO_BINDTODEVICE), as Kea's PktFilterInet opens one per
//! configured interface. It cannot unicast to a client that has no address yet (no ARP entry),
//! so replies that RFC 2131 would unicast to yiaddr are broadcast instead, exactly as Kea does
//! when IfaceMgr::isDirectResponseSupported() is false.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use socket2::{Domain, Protocol, Socket, Type};

/// The first IPv4 address (and prefix length) of `iface`, from getifaddrs(3).
pub fn interface_ipv4(iface: &str) -> Option<(Ipv4Addr, u8)> {
    let addrs = nix::ifaddrs::getifaddrs().ok()?;
    for a in addrs {
        if a.interface_name != iface {
            continue;
        }
        let (Some(addr), Some(mask)) = (a.address, a.netmask) else {
            continue;
        };
        if let (Some(addr), Some(mask)) = (addr.as_sockaddr_in(), mask.as_sockaddr_in()) {
            let ip = addr.ip();
            let prefix = u32::from(mask.ip()).count_ones() as u8;
            return Some((ip, prefix));
        }
    }
    None
}

/// Names of the interfaces with an IPv4 address other than loopback (Kea's `*`).
pub fn all_interfaces() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
        for a in addrs {
            let v4 = a
                .address
                .as_ref()
                .and_then(|s| s.as_sockaddr_in())
                .map(|s| s.ip());
            if let Some(ip) = v4 {
                if !ip.is_loopback() && !out.contains(&a.interface_name) {
                    out.push(a.interface_name.clone());
                }
            }
        }
    }
    out
}

/// A UDP port served by recvmmsg/sendmmsg on a thread of its own: the socket blocks on
/// receive (at most [`super::STOP_CHECK`] at a time, so the thread sees its stop signal).
pub struct UdpPort {
    pub socket: std::net::UdpSocket,
    /// Shared with every query's `Incoming`.
    pub iface: std::sync::Arc<str>,
    pub addr: Ipv4Addr,
}

impl UdpPort {
    /// Binds 0.0.0.0:`port` on `iface` with broadcast enabled.
    pub fn bind(iface: &str, port: u16) -> io::Result<Self> {
        let (socket, addr) = bind_std(iface, port)?;
        super::block_for_serving(&socket)?;
        Ok(UdpPort {
            socket,
            iface: iface.into(),
            addr,
        })
    }
}

/// The non-blocking socket [`UdpPort::bind`] serves (made blocking there), with `iface`'s
/// address; the raw port holds one never read.
pub fn bind_std(iface: &str, port: u16) -> io::Result<(std::net::UdpSocket, Ipv4Addr)> {
    let (addr, _) = interface_ipv4(iface).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!("interface {iface} has no IPv4 address"),
        )
    })?;
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_broadcast(true)?;
    socket.bind_device(Some(iface.as_bytes()))?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)).into())?;
    Ok((socket.into(), addr))
}
