//! The fast path for downloads: a read the engine admitted runs on a thread of its own with
//! its own blocking socket, as tftpd-hpa runs each transfer in a forked process with a
//! blocking loop (tftpd.c `tftp_sendfile`). At windowsize 1 (what EDK2, iPXE and curl ask
//! for) a transfer's speed is one server turn-around per block: here that is a `recvfrom`
//! that wakes this thread, the session's decision, and a `sendto`, with the next block read
//! ahead while the client acknowledges. The sans-IO session ([`Detached`]) still decides
//! every packet and timer; the thread only moves bytes and reads the clock.

use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::libc;
use tokio::sync::mpsc::UnboundedSender;

use super::engine::{Detached, Outgoing};
use crate::time::Clock;

/// Transfers run on threads at once at most; beyond that they run in the shell's event loop
/// (a request flood costs sockets and heap there, not threads).
pub const MAX_THREADS: usize = 256;

/// A retransmission may fire this much after its deadline, to spare a `setsockopt` per block.
const SLACK: Duration = Duration::from_millis(5);

/// A small stack: the loop holds one datagram buffer on the heap, nothing deep.
const STACK: usize = 256 * 1024;

/// What the threads share with the shell.
#[derive(Clone)]
pub struct Runners {
    pub clock: Clock,
    /// Turns true when the server stops: threads end their transfers at the next timer.
    pub stop: Arc<AtomicBool>,
    /// Ended transfers go back to the engine through this, with their sockets: a port is
    /// given back to the OS only once the engine no longer counts a transfer on it.
    pub done: UnboundedSender<(Detached, UdpSocket)>,
    running: Arc<AtomicUsize>,
    /// Threads polling for their client's answer now, and how many may.
    polling: Arc<AtomicUsize>,
    max_polling: usize,
}

/// What a thread needs to start: the transfer, its socket, the packets to send first.
pub type Start = (Detached, UdpSocket, Vec<Outgoing>);

impl Runners {
    pub fn new(clock: Clock, done: UnboundedSender<(Detached, UdpSocket)>) -> Runners {
        Runners {
            clock,
            stop: Arc::new(AtomicBool::new(false)),
            done,
            running: Arc::new(AtomicUsize::new(0)),
            polling: Arc::new(AtomicUsize::new(0)),
            // Half the cores: the clients' traffic and the rest of the server keep the others.
            max_polling: std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
        }
    }

    /// A thread waiting for its transfer, or None when [`MAX_THREADS`] run or the OS has no
    /// thread to give (the caller then keeps the transfer in its event loop). Reserving the
    /// thread before the transfer leaves the engine means no transfer is ever lost with it.
    pub fn reserve(&self) -> Option<std::sync::mpsc::SyncSender<Start>> {
        if self.running.fetch_add(1, Ordering::AcqRel) >= MAX_THREADS {
            self.running.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let (tx, rx) = std::sync::mpsc::sync_channel::<Start>(1);
        let runners = self.clone();
        let spawned = std::thread::Builder::new()
            .name("netbootd-tftp-transfer".into())
            .stack_size(STACK)
            .spawn(move || {
                if let Ok((transfer, socket, first)) = rx.recv() {
                    let ended = runners.run(transfer, &socket, first);
                    let _ = runners.done.send((ended, socket));
                }
                runners.running.fetch_sub(1, Ordering::AcqRel);
            });
        match spawned {
            Ok(_) => Some(tx),
            Err(e) => {
                tracing::debug!("no thread for a transfer, it stays in the event loop: {e}");
                self.running.fetch_sub(1, Ordering::AcqRel);
                None
            }
        }
    }

    /// Runs `transfer` on `socket` until its session ends (or the server stops).
    fn run(&self, mut transfer: Detached, socket: &UdpSocket, first: Vec<Outgoing>) -> Detached {
        let client = transfer.client();
        // Connected to the client as tftpd-hpa connects its transfer socket (tftpd.c, before
        // `tftp()`): the kernel keeps the route, and a stranger's packet never reaches this
        // socket but gets the kernel's port-unreachable, as from tftpd-hpa (the event loop's
        // unconnected sockets answer it ERROR 5, RFC 1350 4).
        if let Err(e) = socket
            .set_nonblocking(false)
            .and_then(|()| socket.connect(client))
        {
            tracing::debug!(port = transfer.port(), "transfer socket: {e}");
        }
        let mut out_buf = Vec::new();
        send(socket, &first, &mut out_buf);
        let mut sent_at = std::time::Instant::now();
        transfer.read_ahead();
        let mut buf = vec![0u8; 65536];
        let mut armed: Option<Duration> = None;
        let mut spin = Spin::default();
        while let Some(deadline) = transfer.deadline() {
            let wait = deadline.saturating_duration_since(self.clock.now());
            if wait.is_zero() {
                let out = transfer.on_timeout(self.clock.now());
                send(socket, &out, &mut out_buf);
                continue;
            }
            let received = match spin.try_first(self, socket, &mut buf) {
                Some(n) => Ok(n),
                None => {
                    // Re-armed only when the timeout would fire late, or much too early.
                    if armed.is_none_or(|a| a > wait + SLACK || a < wait / 2) {
                        if let Err(e) = socket.set_read_timeout(Some(wait)) {
                            tracing::debug!(port = transfer.port(), "transfer socket: {e}");
                        }
                        armed = Some(wait);
                    }
                    socket.recv(&mut buf)
                }
            };
            let out = match received {
                Ok(n) => {
                    spin.record(sent_at.elapsed());
                    transfer.on_datagram(self.clock.now(), client, &buf[..n])
                }
                Err(e) => {
                    if self.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    if !matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) {
                        // ECONNREFUSED: the client's port is gone (ICMP); the timer decides.
                        tracing::debug!(port = transfer.port(), "transfer receive failed: {e}");
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    transfer.on_timeout(self.clock.now())
                }
            };
            if !out.is_empty() {
                send(socket, &out, &mut out_buf);
                sent_at = std::time::Instant::now();
                transfer.read_ahead();
            }
        }
        transfer
    }
}

/// Polling for the client's answer a few microseconds before sleeping in `recv`: when the
/// client answers that fast (a LAN, a VM on this host) the answer is taken without the
/// server's thread going to sleep and being woken, which costs more than the wait on both
/// sides. Whether it pays is measured, not assumed: each transfer times its round trips
/// polling and sleeping in turn ([`Spin::PROBE`] of each), keeps the faster way for
/// [`Spin::SETTLE`] answers, then measures again. Polling loses where the client is slow,
/// or shares this core with the server (polling then delays it), or the core is wanted by
/// other work. At most a core's worth of transfers poll at once, and none while more
/// transfers run than there are cores. Linux's SO_BUSY_POLL
/// idea, for sockets that have no device queue to poll.
#[derive(Default)]
struct Spin {
    /// Answers measured in this probe, and their round trips summed: [polling, sleeping].
    count: [u32; 2],
    sum: [Duration; 2],
    /// Answers left that the last probe's winner holds for, and whether polling won.
    settled_for: u32,
    polling_wins: bool,
    /// Whether the receive under way polled.
    polled: bool,
}

impl Spin {
    /// How long to poll: about a lock-step round trip on a fast link.
    const BUDGET: Duration = Duration::from_micros(60);
    /// Answers timed each way per probe.
    const PROBE: u32 = 32;
    /// Answers the faster way is kept for.
    const SETTLE: u32 = 2048;

    /// Whether the next receive should poll first.
    fn wants_poll(&mut self) -> bool {
        if self.settled_for > 0 {
            self.settled_for -= 1;
            return self.polling_wins;
        }
        self.count[0] < Self::PROBE
    }

    /// Records the round trip of an answer received (`rtt`: from our send to its arrival).
    fn record(&mut self, rtt: Duration) {
        if self.settled_for > 0 {
            return;
        }
        let way = usize::from(!self.polled);
        self.count[way] += 1;
        self.sum[way] += rtt;
        if self.count[0] + self.count[1] >= 2 * Self::PROBE {
            let mean = |w: usize| self.sum[w] / self.count[w].max(1);
            self.polling_wins = self.count[0] > 0 && mean(0) < mean(1);
            self.settled_for = Self::SETTLE;
            self.count = [0; 2];
            self.sum = [Duration::ZERO; 2];
        }
    }

    /// The length of a datagram taken while polling, or None: then block in `recv`.
    fn try_first(
        &mut self,
        runners: &Runners,
        socket: &UdpSocket,
        buf: &mut [u8],
    ) -> Option<usize> {
        self.polled = false;
        // With more transfers than cores there is always other work for the core.
        if runners.running.load(Ordering::Relaxed) > 2 * runners.max_polling || !self.wants_poll() {
            return None;
        }
        let polling = &runners.polling;
        if polling.fetch_add(1, Ordering::AcqRel) >= runners.max_polling {
            polling.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        self.polled = true;
        let start = std::time::Instant::now();
        let got = loop {
            // SAFETY: recv(2) into a buffer we own, with its length; MSG_DONTWAIT keeps
            // the blocking socket from waiting.
            let n = unsafe {
                libc::recv(
                    socket.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n >= 0 {
                break Some(n as usize);
            }
            if io::Error::last_os_error().kind() != io::ErrorKind::WouldBlock
                || start.elapsed() >= Self::BUDGET
            {
                break None;
            }
            std::hint::spin_loop();
        };
        polling.fetch_sub(1, Ordering::AcqRel);
        got
    }
}

fn send(socket: &UdpSocket, out: &[Outgoing], buf: &mut Vec<u8>) {
    for o in out {
        o.packet.encode_into(buf);
        if let Err(e) = socket.send(buf) {
            tracing::debug!(dst = %o.dst, "send failed: {e}");
        }
    }
}
