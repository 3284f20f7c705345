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
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nix::libc;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::udp::{interface_ipv4, UdpPort};

const ETH_P_IP: u16 = 0x0800;
const PACKET_OUTGOING: u8 = 4;

pub struct RawPort {
    fd: AsyncFd<OwnedFd>,
    pub iface: String,
    /// The interface's IPv4 address and hardware address.
    pub addr: std::net::Ipv4Addr,
    pub mac: [u8; 6],
    /// The UDP port the frames are filtered for.
    pub port: u16,
    /// Held, never read: see the module comment.
    _reserved: UdpPort,
}

/// The interface's hardware address, from sysfs.
pub fn interface_mac(iface: &str) -> io::Result<[u8; 6]> {
    let text = std::fs::read_to_string(format!("/sys/class/net/{iface}/address"))?;
    let bytes: Vec<u8> = text
        .trim()
        .split(':')
        .filter_map(|h| u8::from_str_radix(h, 16).ok())
        .collect();
    bytes.try_into().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{iface}: no Ethernet address"),
        )
    })
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
        let ifindex = nix::net::if_::if_nametoindex(iface).map_err(io::Error::from)?;
        // SAFETY: plain socket(2) and bind(2) calls on a descriptor we own; the sockaddr_ll
        // is fully initialised and its size passed with it.
        let fd = unsafe {
            let raw = libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                i32::from(ETH_P_IP.to_be()),
            );
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = OwnedFd::from_raw_fd(raw);
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = ETH_P_IP.to_be();
            sll.sll_ifindex = ifindex as i32;
            let rc = libc::bind(
                fd.as_raw_fd(),
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            );
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
            fd
        };
        let reserved = UdpPort::bind(iface, port)?;
        // SAFETY: `fd` is an open descriptor owned by the AsyncFd from here on, so it stays
        // open and the same for the AsyncFd's whole life.
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE)? };
        Ok(RawPort {
            fd,
            iface: iface.to_string(),
            addr,
            mac,
            port,
            _reserved: reserved,
        })
    }

    /// The next frame that arrived on the interface (frames we sent are skipped).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.fd.readable().await?;
            let got = guard.try_io(|fd| {
                // SAFETY: recvfrom(2) into a buffer we own, with its length, and a
                // sockaddr_ll we own for the source.
                let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
                let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
                let n = unsafe {
                    libc::recvfrom(
                        fd.as_raw_fd(),
                        buf.as_mut_ptr().cast(),
                        buf.len(),
                        0,
                        &mut from as *mut libc::sockaddr_ll as *mut libc::sockaddr,
                        &mut len,
                    )
                };
                if n < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok((n as usize, from.sll_pkttype))
            });
            match got {
                Ok(Ok((_, PACKET_OUTGOING))) => continue,
                Ok(Ok((n, _))) => return Ok(n),
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }

    /// Sends a whole Ethernet frame out of the interface.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: send(2) of a buffer we own on a bound packet socket.
        let n = unsafe {
            libc::send(
                self.fd.get_ref().as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}
