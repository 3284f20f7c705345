//! The fast path for downloads: a read the engine admitted runs on a thread of its own with
//! its own blocking socket, as tftpd-hpa runs each transfer in a forked process with a
//! blocking loop (tftpd.c `tftp_sendfile`). At windowsize 1 (what EDK2, iPXE and curl ask
//! for) a transfer's speed is one server turn-around per block: here that is a `recvfrom`
//! that wakes this thread, the session's decision, and a `sendto`, with the next block read
//! ahead while the client acknowledges. The sans-IO session ([`Detached`]) still decides
//! every packet and timer; the thread only moves bytes and reads the clock.

use std::io;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
    /// Ended transfers go back to the engine through this.
    pub done: UnboundedSender<Detached>,
    running: Arc<AtomicUsize>,
}

/// What a thread needs to start: the transfer, its socket, the packets to send first.
pub type Start = (Detached, UdpSocket, Vec<Outgoing>);

impl Runners {
    pub fn new(clock: Clock, done: UnboundedSender<Detached>) -> Runners {
        Runners {
            clock,
            stop: Arc::new(AtomicBool::new(false)),
            done,
            running: Arc::new(AtomicUsize::new(0)),
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
                    let ended = runners.run(transfer, socket, first);
                    let _ = runners.done.send(ended);
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
    fn run(&self, mut transfer: Detached, socket: UdpSocket, first: Vec<Outgoing>) -> Detached {
        if let Err(e) = socket.set_nonblocking(false) {
            tracing::debug!(port = transfer.port(), "transfer socket: {e}");
        }
        send(&socket, &first);
        transfer.read_ahead();
        let mut buf = vec![0u8; 65536];
        let mut armed: Option<Duration> = None;
        while let Some(deadline) = transfer.deadline() {
            let wait = deadline.saturating_duration_since(self.clock.now());
            if wait.is_zero() {
                let out = transfer.on_timeout(self.clock.now());
                send(&socket, &out);
                continue;
            }
            // Re-armed only when the socket's timeout would fire late, or much too early.
            if armed.is_none_or(|a| a > wait + SLACK || a < wait / 2) {
                if let Err(e) = socket.set_read_timeout(Some(wait)) {
                    tracing::debug!(port = transfer.port(), "transfer socket: {e}");
                }
                armed = Some(wait);
            }
            let out = match socket.recv_from(&mut buf) {
                Ok((n, from)) => transfer.on_datagram(self.clock.now(), from, &buf[..n]),
                Err(e) => {
                    if self.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    if !matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) {
                        tracing::debug!(port = transfer.port(), "transfer receive failed: {e}");
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    transfer.on_timeout(self.clock.now())
                }
            };
            if !out.is_empty() {
                send(&socket, &out);
                transfer.read_ahead();
            }
        }
        transfer
    }
}

fn send(socket: &UdpSocket, out: &[Outgoing]) {
    for o in out {
        if let Err(e) = socket.send_to(&o.packet.encode(), o.dst) {
            tracing::debug!(dst = %o.dst, "send failed: {e}");
        }
    }
}
