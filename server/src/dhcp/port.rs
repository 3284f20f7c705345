//! The two kinds of socket the DHCP service serves, behind one `Port` trait so that one
//! loop ([`super::service::DhcpService::serve`]) runs both: UDP sockets (Kea's
//! `dhcp-socket-type: udp`) and AF_PACKET sockets (`raw`, Kea's default). A port receives a
//! batch of queries at a time (one `recvmmsg` that sleeps until the first arrives and takes
//! everything queued behind it, up to [`BATCH`]), decides each inside the engine's lock, and
//! sends the batch's replies after their leases are written (on UDP with one `sendmmsg`).
//! Every call blocks: a port is served by a thread of its own (`DhcpService::serve`).

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;

use nix::libc;

use super::addressing::{CLIENT_PORT, SERVER_PORT};
use super::engine::{Engine, EngineError, Incoming, Outcome, Silence};
use super::journal;
use super::link::{FrameAnswer, Link};
use crate::time::Instant;
use crate::wire::dhcp::Message;
use crate::wire::frame::{Datagram, BROADCAST_MAC};
use crate::wire::packet_socket::PACKET_OUTGOING;
use crate::wire::pcap::CaptureWriter;
use crate::wire::transport::raw::RawPort;
use crate::wire::transport::udp::UdpPort;
use crate::wire::MacAddr;

/// Queries taken from a socket at once at most.
pub const BATCH: usize = 32;

/// A receive that returns sooner than this found its datagram already queued (a sleep and
/// wake-up takes longer): more are likely behind it.
const QUEUED: std::time::Duration = std::time::Duration::from_micros(50);

/// Room for one datagram or frame: a jumbo frame's worth (DHCP messages are far smaller).
const SLOT: usize = 9216;

/// The pcap a service writes every datagram to, with the instant it started.
pub type Capture =
    std::sync::Arc<std::sync::Mutex<(std::time::Instant, CaptureWriter<std::fs::File>)>>;

/// Queries received together: buffers reused from batch to batch.
pub struct Batch {
    slots: Vec<Vec<u8>>,
    lens: Vec<usize>,
    /// The sender of each datagram (UDP; unused for frames).
    from: Vec<SocketAddrV4>,
    count: usize,
    headers: RecvHeaders,
}

impl Default for Batch {
    fn default() -> Self {
        Batch {
            slots: vec![vec![0; SLOT]; BATCH],
            lens: vec![0; BATCH],
            from: vec![SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0); BATCH],
            count: 0,
            headers: RecvHeaders::default(),
        }
    }
}

/// recvmmsg's message headers, kept from call to call: building all [`BATCH`] of them
/// afresh (zeroed, then pointed at the slots) cost more than the few queries a call takes
/// under light load. Only the headers the kernel wrote to last time are set again.
struct RecvHeaders {
    /// Room for any socket address (sockaddr_in, sockaddr_ll).
    names: Vec<libc::sockaddr_storage>,
    iovecs: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
    /// Headers `0..stale` must be set before the next call (all of them at first).
    stale: usize,
    /// Whether the last call found datagrams already queued (asked for one, it returned at
    /// once; asked for more, it took more than one). When not, the next call asks for one
    /// only: a call asking for more tries the queue once more after the first and, under
    /// light load, always finds it empty (a second message header copied in and a queue
    /// lock per query, for nothing).
    queued: bool,
}

impl Default for RecvHeaders {
    fn default() -> Self {
        // SAFETY: all-zero sockaddr_storage, iovec and mmsghdr are valid values (null
        // pointers, zero lengths); `drain` points them at buffers before any call.
        RecvHeaders {
            names: (0..BATCH).map(|_| unsafe { std::mem::zeroed() }).collect(),
            iovecs: (0..BATCH)
                .map(|_| libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0,
                })
                .collect(),
            headers: (0..BATCH).map(|_| unsafe { std::mem::zeroed() }).collect(),
            stale: BATCH,
            queued: true,
        }
    }
}

/// One received datagram or frame.
#[derive(Clone, Copy)]
pub struct Query<'a> {
    pub bytes: &'a [u8],
    pub from: SocketAddrV4,
}

impl Batch {
    pub fn iter(&self) -> impl Iterator<Item = Query<'_>> {
        (0..self.count).map(|i| Query {
            bytes: &self.slots[i][..self.lens[i]],
            from: self.from[i],
        })
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// What became of one query, whatever the port.
pub enum Answer<To> {
    /// Not a DHCP request to this server (another frame, or another port's).
    NotForUs,
    /// A datagram to the server's port that is no request (a BOOTREPLY): received,
    /// recorded, otherwise ignored.
    NotAQuery,
    /// Does not decode: counted and logged, never fatal.
    Malformed(String),
    Silent {
        kind: Option<u8>,
        why: Silence,
        query: Box<Message>,
    },
    Reply(Reply<To>),
}

/// A reply to send once its lease is stored.
pub struct Reply<To> {
    pub bytes: Vec<u8>,
    pub to: To,
    pub query: Box<Message>,
    pub reply: Box<Message>,
    pub classes: crate::kea::expr::ClassSet,
}

/// A socket the DHCP service serves.
pub(crate) trait Port {
    /// Where a reply goes: an address on UDP; on AF_PACKET the frame says.
    type To;

    fn iface(&self) -> &str;

    /// Waits for queries, then takes those queued behind the first, up to [`BATCH`]; an
    /// empty batch when none came within [`STOP_CHECK`].
    ///
    /// [`STOP_CHECK`]: crate::wire::transport::STOP_CHECK
    fn recv(&self, batch: &mut Batch) -> io::Result<()>;

    /// Decides one query, inside the engine's lock.
    fn answer(
        &self,
        engine: &mut Engine,
        now: Instant,
        query: Query<'_>,
    ) -> Result<Answer<Self::To>, EngineError>;

    /// Logs a reply as Kea does, before it leaves.
    fn journal(&self, reply: &Reply<Self::To>);

    /// Sends one batch's replies, in order; returns how many left.
    fn send(&self, replies: &[Reply<Self::To>]) -> usize;

    /// Writes a received query, or a reply, to the capture.
    fn record_query(&self, capture: &Capture, query: Query<'_>);
    fn record_reply(&self, capture: &Capture, reply: &Reply<Self::To>);
}

fn record(capture: &Capture, frame: &[u8]) {
    if let Ok(mut guard) = capture.lock() {
        let (start, writer) = &mut *guard;
        let _ = writer.write(start.elapsed(), frame);
    }
}

/// A UDP datagram as an Ethernet frame for the capture (no hardware addresses known).
fn record_datagram(capture: &Capture, src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) {
    let frame =
        Datagram::new(MacAddr([0; 6]), BROADCAST_MAC, src, dst, payload.to_vec()).to_frame();
    record(capture, &frame);
}

impl Port for UdpPort {
    type To = SocketAddrV4;

    fn iface(&self) -> &str {
        &self.iface
    }

    fn recv(&self, batch: &mut Batch) -> io::Result<()> {
        drain::<libc::sockaddr_in>(&self.socket, batch)
    }

    fn answer(
        &self,
        engine: &mut Engine,
        now: Instant,
        query: Query<'_>,
    ) -> Result<Answer<SocketAddrV4>, EngineError> {
        let msg = match Message::decode(query.bytes) {
            Ok(m) if m.op == 1 => Box::new(m),
            Ok(_) => return Ok(Answer::NotAQuery),
            Err(e) => {
                journal::parse_failed(query.from, &self.iface, &e.to_string());
                return Ok(Answer::Malformed(e.to_string()));
            }
        };
        journal::received(&msg, query.from, self.addr, &self.iface);
        let incoming = Incoming {
            msg,
            len: query.bytes.len(),
            iface: self.iface.clone(),
            iface_addr: self.addr,
            source: query.from,
            destination: Ipv4Addr::BROADCAST,
            direct_response: false,
        };
        Ok(match engine.handle(now, &incoming)? {
            Outcome::Silent(why) => Answer::Silent {
                kind: incoming.msg.message_type(),
                why,
                query: incoming.msg,
            },
            Outcome::Reply {
                msg, dest, classes, ..
            } => Answer::Reply(Reply {
                bytes: msg.encode(),
                // No unicast to an address without ARP: broadcast (module comment of udp).
                to: if dest.to_chaddr {
                    SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT)
                } else {
                    dest.to
                },
                query: incoming.msg,
                reply: msg,
                classes,
            }),
        })
    }

    fn journal(&self, r: &Reply<SocketAddrV4>) {
        let here = SocketAddrV4::new(self.addr, SERVER_PORT);
        journal::answered(&r.query, &r.reply, &r.classes, here, r.to, &self.iface);
    }

    fn send(&self, replies: &[Reply<SocketAddrV4>]) -> usize {
        let mut sent = 0;
        while sent < replies.len() {
            let rest = &replies[sent..];
            match send_batch(&self.socket, rest) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // The send buffer is full (rare for UDP: the device queue is backed
                    // up): wait a moment.
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Ok(n) => sent += n.max(1),
                Err(e) => {
                    // One bad destination must not hold back the rest of the batch.
                    tracing::warn!(to = %rest[0].to, "send failed: {e}");
                    sent += 1;
                }
            }
        }
        sent
    }

    fn record_query(&self, capture: &Capture, q: Query<'_>) {
        record_datagram(
            capture,
            q.from,
            SocketAddrV4::new(self.addr, SERVER_PORT),
            q.bytes,
        );
    }

    fn record_reply(&self, capture: &Capture, r: &Reply<SocketAddrV4>) {
        let here = SocketAddrV4::new(self.addr, SERVER_PORT);
        record_datagram(capture, here, r.to, &r.bytes);
    }
}

/// The AF_PACKET port takes frames with recvmmsg as the UDP port takes datagrams, and
/// answers each through [`Link::answer`].
pub struct RawServed {
    pub port: RawPort,
    pub link: Link,
}

impl From<RawPort> for RawServed {
    fn from(port: RawPort) -> Self {
        let link = Link {
            iface: port.iface.as_str().into(),
            addr: port.addr,
            mac: port.mac,
            port: port.port,
        };
        RawServed { port, link }
    }
}

impl Port for RawServed {
    /// The reply frame carries its destination.
    type To = ();

    fn iface(&self) -> &str {
        &self.port.iface
    }

    fn recv(&self, batch: &mut Batch) -> io::Result<()> {
        drain::<libc::sockaddr_ll>(self.port.socket(), batch)
    }

    fn answer(
        &self,
        engine: &mut Engine,
        now: Instant,
        query: Query<'_>,
    ) -> Result<Answer<()>, EngineError> {
        Ok(match self.link.answer(engine, now, query.bytes)? {
            FrameAnswer::NotForUs => Answer::NotForUs,
            FrameAnswer::Malformed(e) => {
                journal::parse_failed("(a frame)", &self.port.iface, &e);
                Answer::Malformed(e)
            }
            FrameAnswer::Silent {
                why, kind, query, ..
            } => Answer::Silent { kind, why, query },
            FrameAnswer::Reply {
                frame,
                query,
                reply,
                classes,
            } => Answer::Reply(Reply {
                bytes: frame,
                to: (),
                query,
                reply,
                classes,
            }),
        })
    }

    fn journal(&self, r: &Reply<()>) {
        let iface = &self.port.iface;
        journal::answered(
            &r.query,
            &r.reply,
            &r.classes,
            self.port.addr,
            "(client)",
            iface,
        );
    }

    fn send(&self, replies: &[Reply<()>]) -> usize {
        let mut sent = 0;
        for r in replies {
            match self.port.send(&r.bytes) {
                Ok(()) => sent += 1,
                Err(e) => tracing::warn!(iface = %self.port.iface, "send failed: {e}"),
            }
        }
        sent
    }

    fn record_query(&self, capture: &Capture, q: Query<'_>) {
        record(capture, q.bytes);
    }

    fn record_reply(&self, capture: &Capture, r: &Reply<()>) {
        record(capture, &r.bytes);
    }
}

fn sockaddr(addr: SocketAddrV4) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain old data; all-zero is a valid value.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_port = addr.port().to_be();
    sa.sin_addr.s_addr = u32::from(*addr.ip()).to_be();
    sa
}

/// A socket address recvmmsg fills in for each datagram or frame.
trait Source: Copy {
    /// The sender, or None for a frame to skip (one this host sent, PACKET_OUTGOING: seen
    /// only on a kernel without PACKET_IGNORE_OUTGOING).
    fn sender(&self) -> Option<SocketAddrV4>;
}

impl Source for libc::sockaddr_in {
    fn sender(&self) -> Option<SocketAddrV4> {
        Some(SocketAddrV4::new(
            Ipv4Addr::from(u32::from_be(self.sin_addr.s_addr)),
            u16::from_be(self.sin_port),
        ))
    }
}

impl Source for libc::sockaddr_ll {
    /// Frames carry their addresses; only the direction counts.
    fn sender(&self) -> Option<SocketAddrV4> {
        (self.sll_pkttype != PACKET_OUTGOING).then_some(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
    }
}

/// Sleeps in recvmmsg(2) until a datagram comes (or [`STOP_CHECK`] passes: an empty
/// batch), then takes it and what is queued behind it, up to [`BATCH`]: one system call per
/// wake-up (MSG_WAITFORONE), where a wait for readiness and then a read took two. After a
/// call that found nothing waiting, the next asks for one datagram only (see
/// `RecvHeaders::queued`). The kept datagrams (see [`Source::sender`]) fill the batch, in
/// order.
///
/// [`STOP_CHECK`]: crate::wire::transport::STOP_CHECK
fn drain<S: Source>(socket: &impl AsRawFd, batch: &mut Batch) -> io::Result<()> {
    batch.count = 0;
    let h = &mut batch.headers;
    for i in 0..h.stale {
        h.iovecs[i] = libc::iovec {
            iov_base: batch.slots[i].as_mut_ptr().cast(),
            iov_len: batch.slots[i].len(),
        };
        let m = &mut h.headers[i];
        m.msg_len = 0;
        m.msg_hdr.msg_name = (&mut h.names[i] as *mut libc::sockaddr_storage).cast();
        m.msg_hdr.msg_namelen = std::mem::size_of::<S>() as u32;
        m.msg_hdr.msg_iov = &mut h.iovecs[i];
        m.msg_hdr.msg_iovlen = 1;
        m.msg_hdr.msg_control = std::ptr::null_mut();
        m.msg_hdr.msg_controllen = 0;
        m.msg_hdr.msg_flags = 0;
    }
    h.stale = 0;
    let wanted = if h.queued { BATCH } else { 1 };
    let called = std::time::Instant::now();
    // SAFETY: every header points at a slot buffer of its length, an iovec and a
    // sockaddr_storage (room for S), all owned by `batch` and alive across the call.
    let n = unsafe {
        libc::recvmmsg(
            socket.as_raw_fd(),
            h.headers.as_mut_ptr(),
            wanted as u32,
            libc::MSG_WAITFORONE,
            std::ptr::null_mut(),
        )
    };
    // Asked for one: queued if it came at once. Asked for more: queued if more came.
    h.queued = if wanted == 1 {
        called.elapsed() < QUEUED
    } else {
        n > 1
    };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.kind() {
            // The receive timeout passed, or a signal came: nothing yet.
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(()),
            _ => Err(e),
        };
    }
    let n = n as usize;
    // The kernel wrote lengths into headers 0..n, and slots among them may be swapped below.
    h.stale = n;
    for i in 0..n {
        // SAFETY: the kernel wrote an S (msg_namelen = size_of::<S>()) at the start of
        // this sockaddr_storage, which is larger and at least as aligned.
        let name: S = unsafe { *(&h.names[i] as *const libc::sockaddr_storage).cast::<S>() };
        let Some(from) = name.sender() else {
            continue;
        };
        let kept = batch.count;
        batch.slots.swap(kept, i);
        batch.lens[kept] = h.headers[i].msg_len as usize;
        batch.from[kept] = from;
        batch.count += 1;
    }
    Ok(())
}

/// sendmmsg(2) of `replies`, without waiting: the number that left. The headers live on
/// the stack, sized for the batch (under light load a batch is one reply, and zeroing
/// room for [`BATCH`] each time cost more than building the one).
fn send_batch(socket: &impl AsRawFd, replies: &[Reply<SocketAddrV4>]) -> io::Result<usize> {
    match replies.len() {
        0 => Ok(0),
        1 => send_up_to::<1>(socket, replies),
        2..=4 => send_up_to::<4>(socket, replies),
        _ => send_up_to::<BATCH>(socket, replies),
    }
}

/// [`send_batch`] of at most `N` replies.
fn send_up_to<const N: usize>(
    socket: &impl AsRawFd,
    replies: &[Reply<SocketAddrV4>],
) -> io::Result<usize> {
    let count = replies.len().min(N);
    // SAFETY: all-zero sockaddr_in, iovec and mmsghdr are valid values; each header used
    // points at a reply's bytes (only read) and a sockaddr_in that live across the call.
    let mut names: [libc::sockaddr_in; N] = unsafe { std::mem::zeroed() };
    let mut iovecs: [libc::iovec; N] = unsafe { std::mem::zeroed() };
    let mut headers: [libc::mmsghdr; N] = unsafe { std::mem::zeroed() };
    for (i, r) in replies[..count].iter().enumerate() {
        names[i] = sockaddr(r.to);
        iovecs[i].iov_base = r.bytes.as_ptr() as *mut libc::c_void;
        iovecs[i].iov_len = r.bytes.len();
        headers[i].msg_hdr.msg_name = (&mut names[i] as *mut libc::sockaddr_in).cast();
        headers[i].msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
        headers[i].msg_hdr.msg_iov = &mut iovecs[i];
        headers[i].msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: the headers are initialised above and outlive the call.
    let n = unsafe {
        libc::sendmmsg(
            socket.as_raw_fd(),
            headers.as_mut_ptr(),
            count as u32,
            libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}
