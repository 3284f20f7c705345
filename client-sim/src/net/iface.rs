//! A real interface, through an AF_PACKET socket: the firmware models' frames go out as they
//! are (their own source MAC, 0.0.0.0 before they have an address), and every frame the
//! interface sees comes back to them, so bootsim can boot against any server (real Kea and
//! tftpd-hpa, dnsmasq, a production segment). Time is real here: a firmware's 4-second
//! retransmission takes 4 seconds.
//!
//! The interface should carry no IP address of its own (the kernel would answer for it) and
//! see the client's frames: the socket joins promiscuous mode for its lifetime.

use std::collections::HashMap;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use netbootd::kea::model::Config;
use netbootd::wire::dhcp::Message;
use netbootd::wire::frame::Datagram;
use nix::libc;

use super::ether::{self, ArpRequest, Inbound};
use super::lan::{Frame, ServerNote, Station};
use super::Network;

const ETH_P_ALL: u16 = 0x0003;
const PACKET_OUTGOING: u8 = 4;

/// An AF_PACKET socket bound to interface `name` that sees every frame on it, both ways,
/// in promiscuous mode for its lifetime.
pub fn packet_socket(name: &str) -> io::Result<OwnedFd> {
    let ifindex = nix::net::if_::if_nametoindex(name).map_err(io::Error::from)? as i32;
    // SAFETY: socket(2), bind(2) and setsockopt(2) with fully initialised structures we
    // own, their sizes passed with them; the descriptor is owned from creation on.
    unsafe {
        let raw = libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(ETH_P_ALL.to_be()),
        );
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(raw);
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ALL.to_be();
        sll.sll_ifindex = ifindex;
        if libc::bind(
            fd.as_raw_fd(),
            &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        ) < 0
        {
            return Err(io::Error::last_os_error());
        }
        let mut mreq: libc::packet_mreq = std::mem::zeroed();
        mreq.mr_ifindex = ifindex;
        mreq.mr_type = libc::PACKET_MR_PROMISC as u16;
        if libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_ADD_MEMBERSHIP,
            &mreq as *const libc::packet_mreq as *const libc::c_void,
            std::mem::size_of::<libc::packet_mreq>() as u32,
        ) < 0
        {
            return Err(io::Error::last_os_error());
        }
        Ok(fd)
    }
}

/// Waits up to `wait` for a frame on a packet socket: the frame, and whether this host sent
/// it (PACKET_OUTGOING).
pub fn receive_frame(fd: &OwnedFd, wait: Duration) -> Option<(Vec<u8>, bool)> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = wait.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: poll(2) on one descriptor we own.
    let ready = unsafe { libc::poll(&mut pfd, 1, ms) };
    if ready <= 0 {
        return None;
    }
    let mut buf = vec![0u8; 65536];
    // SAFETY: recvfrom(2) into buffers we own, with their sizes.
    let (n, kind) = unsafe {
        let mut from: libc::sockaddr_ll = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
        let n = libc::recvfrom(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
            &mut from as *mut libc::sockaddr_ll as *mut libc::sockaddr,
            &mut len,
        );
        (n, from.sll_pkttype)
    };
    if n <= 0 {
        return None;
    }
    buf.truncate(n as usize);
    Some((buf, kind == PACKET_OUTGOING))
}

pub struct Iface {
    fd: OwnedFd,
    name: String,
    start: Instant,
    acks: HashMap<[u8; 6], Ipv4Addr>,
    pub frames: Vec<Frame>,
}

impl Iface {
    pub fn open(name: &str) -> io::Result<Iface> {
        let fd = packet_socket(name)?;
        Ok(Iface {
            fd,
            name: name.into(),
            start: Instant::now(),
            acks: HashMap::new(),
            frames: Vec::new(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn send(&mut self, d: &Datagram) {
        let frame = d.to_frame();
        // SAFETY: send(2) of a buffer we own on a bound packet socket.
        unsafe {
            libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0);
        }
        self.frames.push(Frame {
            at: self.start.elapsed(),
            from_client: true,
            datagram: d.clone(),
        });
    }

    /// Waits up to `wait` for a frame from the wire (not one we sent).
    fn receive(&mut self, wait: Duration) -> Option<Datagram> {
        let (buf, outgoing) = receive_frame(&self.fd, wait)?;
        if outgoing {
            return None;
        }
        let frame = &buf[..];
        let d = match ether::classify(frame) {
            Inbound::Udp(d) => d,
            Inbound::Arp(request) => {
                if let Some(reply) = self.arp_reply(&request) {
                    // SAFETY: send(2) of a buffer we own on a bound packet socket.
                    unsafe {
                        libc::send(self.fd.as_raw_fd(), reply.as_ptr().cast(), reply.len(), 0);
                    }
                }
                return None;
            }
            Inbound::Ignored(_) => return None,
        };
        if d.src.port() == 67 {
            if let Ok(m) = Message::decode(&d.payload) {
                if m.message_type() == Some(5) {
                    let mut mac = [0u8; 6];
                    mac.copy_from_slice(&m.chaddr[..6]);
                    self.acks.insert(mac, m.yiaddr);
                }
            }
        }
        self.frames.push(Frame {
            at: self.start.elapsed(),
            from_client: false,
            datagram: d.clone(),
        });
        Some(d)
    }
}

impl Iface {
    /// Firmware answers ARP for its address (EDK2's ArpDxe, iPXE's arp.c); the models do not
    /// speak ARP, so the wire answers for them, for the addresses their DHCPACKs gave.
    fn arp_reply(&self, request: &ArpRequest) -> Option<Vec<u8>> {
        let (mac, _) = self.acks.iter().find(|(_, ip)| **ip == request.target)?;
        Some(ether::arp_reply(request, *mac))
    }
}

impl Network for Iface {
    fn run(&mut self, station: &mut dyn Station, limit: Duration) {
        let end = self.start.elapsed() + limit;
        loop {
            while let Some(d) = station.poll_transmit() {
                self.send(&d);
            }
            if station.finished() {
                return;
            }
            let now = self.start.elapsed();
            if now >= end {
                return;
            }
            let deadline = station.poll_timeout().unwrap_or(end).min(end);
            if deadline <= now {
                station.handle_timeout(now);
                continue;
            }
            if let Some(d) = self.receive(deadline - now) {
                station.handle(self.start.elapsed(), &d);
            }
        }
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn notes(&self) -> &[ServerNote] {
        &[]
    }

    fn config(&self) -> Option<&Config> {
        None
    }

    fn leased(&self, mac: [u8; 6]) -> Option<Ipv4Addr> {
        self.acks.get(&mac).copied()
    }
}
