//! The tokio shell around [`TftpEngine`]: it owns the sockets and the clock, the engine owns
//! every decision. A request on the listening socket gets a socket of its own (its transfer
//! ID, from the port range when configured), whose port the engine's transfer then sends
//! from; a small task per transfer socket forwards what arrives on it; one loop feeds the
//! engine requests, transfer packets and timer expiries, sends what it answers, and closes a
//! transfer's socket when the engine ends it.
//!
//! The loop runs on a runtime of its own thread ([`spawn`]), so that a forwarded packet wakes
//! the engine on the same thread. Downloads take the faster path when a thread is free: the
//! engine detaches the admitted read and [`super::lockstep`] runs it on a blocking socket
//! of its own, handing it back ended; a lock-step transfer's speed is one turn-around per
//! block, and there that is one wake-up, one decision and one send.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::engine::{Event, Outgoing, Stats, TftpEngine};
use super::lockstep::Runners;
use super::remap::Direction;
use super::transfer::End;
use crate::control::stats::Statistics;
use crate::dhcp::stats::Shared as SharedStats;
use crate::time::Clock;

/// Packets waiting for the engine; beyond this, transfer tasks wait and the kernel's socket
/// buffers take the excess (and drop it, as for any flooded UDP socket).
const QUEUE: usize = 4096;

/// Serves TFTP with `engine` on `listen` from a thread of its own until `stop` turns true;
/// the handle gives the engine's counters at the end.
pub fn spawn(
    engine: TftpEngine,
    listen: std::net::UdpSocket,
    stop: watch::Receiver<bool>,
    statistics: Option<SharedStats>,
) -> io::Result<std::thread::JoinHandle<Stats>> {
    listen.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("netbootd-tftp".into())
        .spawn(move || {
            runtime.block_on(async move {
                match UdpSocket::from_std(listen) {
                    Ok(listen) => serve(engine, listen, stop, statistics).await,
                    Err(e) => {
                        tracing::error!("TFTP socket: {e}");
                        engine.stats().clone()
                    }
                }
            })
        })
}

struct TransferSocket {
    socket: Arc<UdpSocket>,
    reader: JoinHandle<()>,
}

/// Serves requests arriving on `listen` until `stop` turns true.
pub async fn serve(
    mut engine: TftpEngine,
    listen: UdpSocket,
    mut stop: watch::Receiver<bool>,
    statistics: Option<SharedStats>,
) -> Stats {
    let clock = Clock::start();
    let (tx, mut rx) = mpsc::channel::<(u16, SocketAddr, Vec<u8>)>(QUEUE);
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let runners = Runners::new(clock, done_tx);
    let mut sockets: HashMap<u16, TransferSocket> = HashMap::new();
    let mut next_port = 0u64;
    let mut buf = vec![0u8; 65536];
    loop {
        let deadline = engine.next_deadline().map(|d| clock.to_std(d));
        let out = tokio::select! {
            r = listen.recv_from(&mut buf) => {
                let (n, peer) = match r {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!("tftp receive failed: {e}");
                        continue;
                    }
                };
                let socket = match transfer_socket(&engine, &mut next_port) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!(%peer, "no transfer socket: {e}");
                        continue;
                    }
                };
                let Ok(port) = socket.local_addr().map(|a| a.port()) else {
                    continue;
                };
                let thread = runners.reserve();
                let out = engine.on_request(clock.now(), peer, port, &buf[..n]);
                let detached = thread.as_ref().and_then(|_| engine.detach(port));
                match (thread, detached) {
                    (Some(thread), Some(transfer)) => {
                        if let Err(e) = thread.send((transfer, socket, out)) {
                            // The thread is gone: the transfer ends here, counted.
                            let (transfer, _, _) = e.0;
                            engine.finish(transfer);
                        }
                    }
                    _ => {
                        let socket = match in_event_loop(socket) {
                            Ok(s) => Arc::new(s),
                            Err(e) => {
                                tracing::error!(%peer, "transfer socket: {e}");
                                continue;
                            }
                        };
                        let reader = tokio::spawn(forward(port, socket.clone(), tx.clone()));
                        sockets.insert(port, TransferSocket { socket, reader });
                        send(&sockets, out).await;
                        if !engine.is_running(port) {
                            // Refused, or not a request: the answer has left, the socket goes.
                            if let Some(closed) = sockets.remove(&port) {
                                closed.reader.abort();
                            }
                        }
                    }
                }
                Vec::new()
            }
            Some((transfer, socket)) = done.recv() => {
                engine.finish(transfer);
                drop(socket);
                Vec::new()
            }
            Some((port, from, bytes)) = rx.recv() => {
                engine.on_transfer_packet(clock.now(), from, port, &bytes)
            }
            _ = sleep_until(deadline) => engine.on_timeout(clock.now()),
            _ = stop.changed() => {
                runners.stop.store(true, Ordering::Relaxed);
                break;
            }
        };
        send(&sockets, out).await;
        for event in engine.drain_events() {
            log(&event);
            if let Some(Ok(mut s)) = statistics.as_ref().map(|s| s.lock()) {
                tally(&mut s, &event);
            }
            if let Event::Ended { port, .. } = event {
                if let Some(closed) = sockets.remove(&port) {
                    closed.reader.abort();
                }
            }
        }
    }
    for (_, s) in sockets {
        s.reader.abort();
    }
    engine.stats().clone()
}

async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// Hands what arrives on a transfer's socket to the engine.
async fn forward(port: u16, socket: Arc<UdpSocket>, tx: mpsc::Sender<(u16, SocketAddr, Vec<u8>)>) {
    let mut buf = vec![0u8; 65536];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, from)) => {
                if tx.send((port, from, buf[..n].to_vec())).await.is_err() {
                    return;
                }
            }
            Err(e) => tracing::debug!(port, "transfer receive failed: {e}"),
        }
    }
}

async fn send(sockets: &HashMap<u16, TransferSocket>, out: Vec<Outgoing>) {
    for o in out {
        let Some(s) = sockets.get(&o.src_port) else {
            continue;
        };
        let bytes = o.packet.encode();
        // A UDP send rarely waits; try it without a trip through the reactor first.
        match s.socket.try_send_to(&bytes, o.dst) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if let Err(e) = s.socket.send_to(&bytes, o.dst).await {
                    tracing::debug!(dst = %o.dst, "send failed: {e}");
                }
            }
            Err(e) => tracing::debug!(dst = %o.dst, "send failed: {e}"),
        }
    }
}

/// A transfer's socket for the event loop.
fn in_event_loop(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket)
}

/// A socket for one transfer: any port, or the next free one of tftpd-hpa's --port-range.
fn transfer_socket(engine: &TftpEngine, next: &mut u64) -> io::Result<std::net::UdpSocket> {
    let config = engine.config();
    let ip = config.listen.ip();
    let Some((low, high)) = config.port_range else {
        return std::net::UdpSocket::bind(SocketAddr::new(ip, 0));
    };
    let span = u64::from(high - low) + 1;
    for i in 0..span {
        let port = low + ((*next + i) % span) as u16;
        if let Ok(s) = std::net::UdpSocket::bind(SocketAddr::new(ip, port)) {
            *next = (*next + i + 1) % span;
            return Ok(s);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        "port range exhausted",
    ))
}

/// tftpd-hpa's syslog lines (tftpd.c: `"%s from %s filename %s"` for each request, `"sending
/// NAK (%d, %s) to %s"` for each refusal), under the logger `in.tftpd` and no message ID.
fn log(event: &Event) {
    match event {
        Event::Started {
            client,
            file,
            direction,
            ..
        } => {
            let op = if *direction == Direction::Read {
                "RRQ"
            } else {
                "WRQ"
            };
            tracing::info!(
                logger = "in.tftpd",
                id = "",
                "{op} from {} filename {file}",
                client.ip()
            );
        }
        Event::Refused {
            client,
            file,
            refused,
            ..
        } => tracing::info!(
            logger = "in.tftpd",
            id = "",
            "sending NAK ({}, {}) to {} (filename {file}: {})",
            refused.code,
            refused.message,
            client.ip(),
            refused.reason
        ),
        Event::Ended {
            client,
            file,
            direction,
            end,
            ..
        } => match end {
            End::Complete { bytes, .. } => {
                let verb = if *direction == Direction::Read {
                    "sent"
                } else {
                    "received"
                };
                tracing::debug!(
                    logger = "in.tftpd",
                    id = "",
                    "{verb} {file} ({bytes} bytes) to {}",
                    client.ip()
                );
            }
            End::ClientError { code: 8, .. } => tracing::debug!(
                logger = "in.tftpd",
                id = "",
                "{} ended {file} after option negotiation",
                client.ip()
            ),
            other => tracing::info!(
                logger = "in.tftpd",
                id = "",
                "transfer of {file} to {} ended: {other:?}",
                client.ip()
            ),
        },
    }
}

/// netbootd's own TFTP statistics beside Kea's (tftpd-hpa keeps none): requests, transfers
/// by outcome, bytes each way, refusals by error code.
fn tally(s: &mut Statistics, event: &Event) {
    match event {
        Event::Started { .. } => s.add("tftp-transfers-started", 1),
        Event::Refused { refused, .. } => {
            s.add("tftp-requests-refused", 1);
            s.add(&format!("tftp-refused-code-{}", refused.code), 1);
        }
        Event::Ended { direction, end, .. } => match end {
            End::Complete { bytes, .. } => {
                s.add("tftp-transfers-completed", 1);
                let name = if *direction == Direction::Read {
                    "tftp-bytes-sent"
                } else {
                    "tftp-bytes-received"
                };
                s.add(name, *bytes as i64);
            }
            End::ClientError { code: 8, .. } => s.add("tftp-option-probes", 1),
            End::TimedOut => s.add("tftp-transfers-timed-out", 1),
            _ => s.add("tftp-transfers-failed", 1),
        },
    }
}
