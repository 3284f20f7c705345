//! An AF_PACKET socket on one interface (packet(7)): whole Ethernet frames in and out. The
//! one place the link layer's system calls are written: netbootd's raw DHCP transport (Kea's
//! `dhcp-socket-type: raw`, PktFilterLPF) and bootsim's real-interface segment and QEMU tap
//! both open theirs here. Non-blocking: tokio polls it through `AsyncFd`, the real-time
//! segment with [`PacketSocket::receive`].

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use nix::libc;

use super::mac::MacAddr;

/// Which frames the socket receives (its `sll_protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `ETH_P_ALL`: every frame, ARP and IPv6 included.
    All,
    /// `ETH_P_IP`: IPv4 only.
    Ipv4,
}

impl Protocol {
    fn ethertype(self) -> u16 {
        match self {
            Protocol::All => 0x0003,
            Protocol::Ipv4 => 0x0800,
        }
    }
}

/// Which way a received frame went (`sll_pkttype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Sent by another machine (PACKET_HOST, BROADCAST, MULTICAST, OTHERHOST).
    Inbound,
    /// Sent by this host, the socket's own frames included (PACKET_OUTGOING).
    Outgoing,
}

pub const PACKET_OUTGOING: u8 = 4;

pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

impl PacketSocket {
    /// A socket bound to interface `iface`, receiving `protocol`'s frames.
    pub fn open(iface: &str, protocol: Protocol) -> io::Result<PacketSocket> {
        let ifindex = nix::net::if_::if_nametoindex(iface).map_err(io::Error::from)? as i32;
        let proto = protocol.ethertype().to_be();
        // SAFETY: socket(2) returns a new descriptor owned from here on; bind(2) gets a
        // fully initialised sockaddr_ll we own, with its size.
        unsafe {
            let raw = libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                i32::from(proto),
            );
            check(raw)?;
            let fd = OwnedFd::from_raw_fd(raw);
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = proto;
            sll.sll_ifindex = ifindex;
            check(libc::bind(
                fd.as_raw_fd(),
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            ))?;
            Ok(PacketSocket { fd, ifindex })
        }
    }

    /// Puts the interface in promiscuous mode for the socket's lifetime
    /// (PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC), to see frames for other MACs.
    pub fn promiscuous(self) -> io::Result<PacketSocket> {
        // SAFETY: setsockopt(2) with a fully initialised packet_mreq we own, and its size.
        unsafe {
            let mut mreq: libc::packet_mreq = std::mem::zeroed();
            mreq.mr_ifindex = self.ifindex;
            mreq.mr_type = libc::PACKET_MR_PROMISC as u16;
            check(libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                &mreq as *const libc::packet_mreq as *const libc::c_void,
                std::mem::size_of::<libc::packet_mreq>() as u32,
            ))?;
        }
        Ok(self)
    }

    /// Frames this host sends out of the interface are not queued on the socket
    /// (PACKET_IGNORE_OUTGOING, Linux 4.20): a server reading its own replies back only to
    /// skip them pays for them twice. Kept best-effort: on an older kernel the caller still
    /// sees [`Direction::Outgoing`] and skips them.
    pub fn ignore_outgoing(self) -> PacketSocket {
        let on: libc::c_int = 1;
        // SAFETY: setsockopt(2) with an int we own, and its size.
        let _ = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_IGNORE_OUTGOING,
                &on as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as u32,
            )
        };
        self
    }

    /// The next frame queued on the socket, into `buf`: its length and direction;
    /// `WouldBlock` when none is.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, Direction)> {
        // SAFETY: recvfrom(2) into a buffer we own, with its length, and a sockaddr_ll we
        // own for the source.
        let (n, kind) = unsafe {
            let mut from: libc::sockaddr_ll = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
            let n = libc::recvfrom(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                &mut from as *mut libc::sockaddr_ll as *mut libc::sockaddr,
                &mut len,
            );
            (n, from.sll_pkttype)
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let direction = if kind == PACKET_OUTGOING {
            Direction::Outgoing
        } else {
            Direction::Inbound
        };
        Ok((n as usize, direction))
    }

    /// Waits up to `wait` for a frame (poll(2)), for callers outside an async runtime.
    pub fn receive(&self, wait: Duration) -> Option<(Vec<u8>, Direction)> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = wait.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: poll(2) on one descriptor we own.
        if unsafe { libc::poll(&mut pfd, 1, ms) } <= 0 {
            return None;
        }
        let mut buf = vec![0u8; 65536];
        let (n, direction) = self.recv(&mut buf).ok()?;
        buf.truncate(n);
        Some((buf, direction))
    }

    /// Sends a whole Ethernet frame out of the interface.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: send(2) of a buffer we own on a bound packet socket.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        check(n as libc::c_int)
    }
}

impl AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The interface's hardware address, from sysfs.
pub fn interface_mac(iface: &str) -> io::Result<MacAddr> {
    let text = std::fs::read_to_string(format!("/sys/class/net/{iface}/address"))?;
    text.trim().parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{iface}: no Ethernet address"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_has_a_hardware_address_and_no_interface_is_an_error() {
        assert_eq!(interface_mac("lo").unwrap(), MacAddr([0; 6]));
        assert!(interface_mac("rd-no-such-if").is_err());
        assert!(PacketSocket::open("rd-no-such-if", Protocol::All).is_err());
    }
}
