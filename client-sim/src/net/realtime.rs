//! The segment on a real clock, with one station that is a real machine: QEMU's
//! `-netdev dgram` sends each Ethernet frame of the guest as one UDP datagram on 127.0.0.1
//! and takes the replies the same way (no header, both directions; research/qemu.md), so a
//! VM boots against netbootd in-process with no root, no tap and no bridge.
//!
//! [`FramePort`] is that machine as a [`Station`]: UDP datagrams in the guest's frames go on
//! the segment, ARP requests for a server's address are answered here (the in-process server
//! does not speak ARP), and everything else (IPv6 router solicitations and neighbour
//! discovery, which EDK2 and iPXE send too) is counted and dropped. [`run`] drives the
//! segment's poll/step loop, sleeping on the port's socket until the next event is due.

use std::collections::VecDeque;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use netbootd::time::{Clock, Instant};
use netbootd::wire::frame::Datagram;
use netbootd::wire::MacAddr;

use super::ether::{self, Ignored, Inbound};
use super::lan::{Lan, Run, Station};

/// How often the driver looks up from the socket to ask whether to stop (a console line, the
/// VM exiting), at most.
const LOOK_UP: Duration = Duration::from_millis(100);

/// A real machine's Ethernet port on the segment, one frame per UDP datagram.
pub struct FramePort {
    socket: UdpSocket,
    peer: SocketAddr,
    mac: Option<MacAddr>,
    /// The addresses the port answers ARP for, with the MAC it answers.
    servers: Vec<(Ipv4Addr, MacAddr)>,
    inbox: VecDeque<Datagram>,
    /// One frame's worth of receive buffer, kept between reads.
    buf: Vec<u8>,
    closed: bool,
    /// Frames from the guest that the segment does not carry.
    pub ignored: Ignored,
    /// ARP requests answered for a server.
    pub arp_answered: u64,
    /// Frames sent to the guest, and send errors (the VM gone).
    pub sent: u64,
    pub send_errors: u64,
}

impl FramePort {
    /// Binds `local` (127.0.0.1:0 for any port) and sends to `peer`, QEMU's `local` address.
    /// `mac` is the guest's NIC (frames for it reach it alone on a shared segment).
    pub fn bind(local: SocketAddr, peer: SocketAddr, mac: Option<MacAddr>) -> io::Result<Self> {
        let socket = UdpSocket::bind(local)?;
        socket.set_nonblocking(true)?;
        Ok(FramePort {
            socket,
            peer,
            mac,
            servers: Vec::new(),
            inbox: VecDeque::new(),
            buf: vec![0u8; 65536],
            closed: false,
            ignored: Ignored::default(),
            arp_answered: 0,
            sent: 0,
            send_errors: 0,
        })
    }

    /// The address QEMU's `remote` must name.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Answers ARP for these addresses (the servers on the segment).
    pub fn answer_arp_for(&mut self, servers: Vec<(Ipv4Addr, MacAddr)>) {
        self.servers = servers;
    }

    /// A second handle on the socket, for the driver to wait on.
    pub fn waiter(&self) -> io::Result<UdpSocket> {
        self.socket.try_clone()
    }

    /// The machine is gone (powered off, killed): the station is finished.
    pub fn close(&mut self) {
        self.closed = true;
    }

    fn transmit(&mut self, frame: &[u8]) {
        match self.socket.send_to(frame, self.peer) {
            Ok(_) => self.sent += 1,
            Err(_) => self.send_errors += 1,
        }
    }

    /// Reads every frame waiting on the socket.
    fn drain(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        loop {
            let n = match self.socket.recv_from(&mut buf) {
                Ok((n, from)) if from == self.peer => n,
                // Datagrams from anyone but QEMU are not frames of this machine.
                Ok(_) => continue,
                Err(_) => break,
            };
            match ether::classify(&buf[..n]) {
                Inbound::Udp(d) => self.inbox.push_back(d),
                Inbound::Arp(request) => {
                    let mac = self
                        .servers
                        .iter()
                        .find(|(ip, _)| *ip == request.target_ip)
                        .map(|(_, mac)| *mac);
                    match mac {
                        Some(mac) => {
                            self.arp_answered += 1;
                            self.transmit(&request.reply_from(mac).emit());
                        }
                        None => self.ignored.count(ether::Kind::Arp),
                    }
                }
                Inbound::Ignored(kind) => self.ignored.count(kind),
            }
        }
        self.buf = buf;
    }
}

impl Station for FramePort {
    fn poll_transmit(&mut self) -> Option<Datagram> {
        if self.inbox.is_empty() && !self.closed {
            self.drain();
        }
        self.inbox.pop_front()
    }

    fn handle(&mut self, _now: Instant, datagram: &Datagram) {
        if !self.closed {
            self.transmit(&datagram.to_frame());
        }
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    fn finished(&self) -> bool {
        self.closed
    }

    fn mac(&self) -> Option<MacAddr> {
        self.mac
    }
}

/// Why [`run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every station finished (the port closed).
    Finished,
    /// `keep_going` said stop.
    Asked,
    /// The time limit passed.
    Limit,
}

/// Runs the segment in real time: segment time is the OS clock since the call (offset by the
/// segment's time so far), the driver sleeps on `waiter` (the port's socket) until the next
/// event is due, and a frame from outside wakes station `port`. `keep_going` is asked at
/// least every 100 ms and after every event.
pub fn run(
    lan: &mut Lan,
    stations: &mut [&mut dyn Station],
    port: usize,
    waiter: &UdpSocket,
    limit: Duration,
    keep_going: &mut dyn FnMut(&Lan) -> bool,
) -> io::Result<Stopped> {
    let clock = Clock::resume_at(lan.now());
    let end = lan.now() + limit;
    let mut run = Run::new(stations);
    let mut peek = [0u8; 1];
    loop {
        let next = lan.poll(&mut run, stations);
        if run.finished() {
            return Ok(Stopped::Finished);
        }
        if !keep_going(lan) {
            return Ok(Stopped::Asked);
        }
        let now = clock.now();
        if now >= end {
            lan.advance_to(end);
            return Ok(Stopped::Limit);
        }
        let due = next.is_some_and(|n| n <= now);
        if !due {
            let until = next.unwrap_or(end).min(end).min(now + LOOK_UP);
            let wait = (until - now).max(Duration::from_millis(1));
            waiter.set_read_timeout(Some(wait))?;
            let ready = match waiter.peek(&mut peek) {
                Ok(_) => true,
                // A datagram larger than the buffer still counts as one waiting.
                Err(e) if e.raw_os_error() == Some(nix::libc::EMSGSIZE) => true,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    false
                }
                // ECONNREFUSED from an earlier send to a VM that is gone: nothing to read.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => false,
                Err(e) => return Err(e),
            };
            lan.advance_to(clock.now());
            if ready {
                run.wake(port);
            }
            continue;
        }
        lan.advance_to(now);
        lan.step(&mut run, stations);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_port_carries_udp_answers_arp_for_the_server_and_counts_ipv6() {
        let qemu = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut port = FramePort::bind(
            "127.0.0.1:0".parse().unwrap(),
            qemu.local_addr().unwrap(),
            Some(MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56])),
        )
        .unwrap();
        port.answer_arp_for(vec![(
            Ipv4Addr::new(192, 168, 1, 1),
            MacAddr([2, 0, 0x5e, 0, 0, 1]),
        )]);
        let to = port.local_addr().unwrap();
        let d = Datagram::new(
            MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]),
            MacAddr::BROADCAST,
            "0.0.0.0:68".parse().unwrap(),
            "255.255.255.255:67".parse().unwrap(),
            vec![1, 2, 3],
        );
        qemu.send_to(&d.to_frame(), to).unwrap();
        let mut arp = vec![0xff; 6];
        arp.extend_from_slice(&[0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x08, 0x06]);
        arp.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56]);
        arp.extend_from_slice(&[192, 168, 1, 2, 0, 0, 0, 0, 0, 0, 192, 168, 1, 1]);
        qemu.send_to(&arp, to).unwrap();
        let mut v6 = vec![
            0x33, 0x33, 0, 0, 0, 2, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x86, 0xdd,
        ];
        v6.extend_from_slice(&[0; 40]);
        qemu.send_to(&v6, to).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(port.poll_transmit(), Some(d.clone()));
        assert_eq!(port.poll_transmit(), None);
        assert_eq!(port.arp_answered, 1);
        assert_eq!(port.ignored.ipv6, 1);
        let mut buf = [0u8; 100];
        let (n, _) = qemu.recv_from(&mut buf).unwrap();
        assert_eq!(n, 42);
        assert_eq!(&buf[28..32], &[192, 168, 1, 1], "the reply says who has .1");
        port.handle(Instant::ZERO, &d);
        let (n, _) = qemu.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], &d.to_frame()[..]);
    }
}
