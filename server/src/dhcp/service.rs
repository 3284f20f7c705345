//! The tokio shell around the engine: one task per interface socket, the engine behind a
//! mutex (it answers in microseconds), malformed packets counted and logged, every datagram
//! optionally recorded to pcap. The shell owns the lease file: after the engine decides, the
//! changes it returns are written before the answer leaves, outside the engine's lock (so an
//! fsync never holds up other queries' decisions) but inside the file's, taken before the
//! engine's is released (so rows reach the file in the order the engine made them).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::addressing::{CLIENT_PORT, SERVER_PORT};
use super::engine::Silence;
use super::engine::{Engine, EngineError, Incoming, Outcome};
use super::journal;
use super::lease::{Durability, Memfile, MemfileError};
use super::link::FrameAnswer;
use super::stats::{self, Cause, Shared as SharedStats};
use crate::time::{Clock, Instant};
use crate::wire::dhcp::Message;
use crate::wire::frame::{Datagram, BROADCAST_MAC};
use crate::wire::pcap::CaptureWriter;
use crate::wire::transport::raw::RawPort;
use crate::wire::transport::udp::UdpPort;

/// Counters an operator (and the tests) can read.
#[derive(Debug, Default)]
pub struct Stats {
    pub received: AtomicU64,
    pub malformed: AtomicU64,
    pub answered: AtomicU64,
    pub silent: AtomicU64,
}

pub type Capture = Arc<Mutex<(std::time::Instant, CaptureWriter<std::fs::File>)>>;

pub struct DhcpService {
    pub engine: Arc<Mutex<Engine>>,
    /// The lease file; None when leases live in memory only (`persist: false`).
    pub lease_file: Option<Arc<Mutex<Memfile>>>,
    pub durability: Durability,
    pub clock: Clock,
    pub stats: Arc<Stats>,
    /// Kea's statistics (`statistic-get`), shared with the control channel.
    pub statistics: SharedStats,
    pub capture: Option<Capture>,
}

/// Why a decision could not be carried out; the query is dropped, as Kea drops a packet
/// whose lease it cannot store.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("lease file: {0}")]
    LeaseFile(#[from] MemfileError),
    #[error("a thread panicked holding the engine or the lease file")]
    Poisoned,
}

impl DhcpService {
    /// Updates Kea's statistics.
    fn tally(&self, update: impl FnOnce(&mut crate::control::stats::Statistics)) {
        if let Ok(mut s) = self.statistics.lock() {
            update(&mut s);
        }
    }

    /// A query left unanswered: dropped, unless no answer was due (RELEASE, DECLINE).
    fn silent(&self, why: &Silence) {
        self.stats.silent.fetch_add(1, Ordering::Relaxed);
        if !why.expected() {
            self.tally(stats::dropped);
        }
    }

    /// Runs `decide` on the engine at the current instant, then records the lease changes it
    /// made; only when this returns may the caller answer the client.
    pub fn decide<T>(
        &self,
        decide: impl FnOnce(&mut Engine, Instant) -> Result<T, EngineError>,
    ) -> Result<T, ServiceError> {
        self.decide_as(Cause::Query, decide)
    }

    /// [`DhcpService::decide`] for changes of another cause (statistics count them apart).
    pub fn decide_as<T>(
        &self,
        cause: Cause,
        decide: impl FnOnce(&mut Engine, Instant) -> Result<T, EngineError>,
    ) -> Result<T, ServiceError> {
        let mut engine = self.engine.lock().map_err(|_| ServiceError::Poisoned)?;
        let decided = decide(&mut engine, self.clock.now());
        let changes = engine.take_changes();
        if !changes.is_empty() || cause == Cause::Recount {
            if let Ok(mut s) = self.statistics.lock() {
                stats::leases_changed(&mut s, engine.config(), engine.leases(), &changes, cause);
            }
        }
        let Some(file) = self.lease_file.as_ref().filter(|_| !changes.is_empty()) else {
            return Ok(decided?);
        };
        let mut file = file.lock().map_err(|_| ServiceError::Poisoned)?;
        drop(engine);
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let written = if self.durability == Durability::Fsync && multi_thread {
            // A disk flush takes milliseconds: let tokio move other tasks off this worker.
            tokio::task::block_in_place(|| file.persist(&changes))
        } else {
            file.persist(&changes)
        };
        if let Err(e) = written {
            // Not on disk, so not given: memory goes back to what the file holds, the
            // answer is dropped and the client asks again later (Kea drops the packet when
            // its memfile cannot write, DHCP4_PACKET_PROCESS_STD_EXCEPTION).
            drop(file);
            if let Ok(mut engine) = self.engine.lock() {
                engine.undo(&changes);
            }
            tracing::error!(
                logger = "kea-dhcp4.dhcpsrv",
                id = "DHCPSRV_MEMFILE_WRITE_FAILED",
                "lease file write failed, the query is dropped: {e}"
            );
            return Err(e.into());
        }
        Ok(decided?)
    }
}

fn record(capture: &Option<Capture>, src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) {
    if let Some(c) = capture {
        if let Ok(mut guard) = c.lock() {
            let (start, writer) = &mut *guard;
            let frame = Datagram::new([0; 6], BROADCAST_MAC, src, dst, payload.to_vec()).to_frame();
            let _ = writer.write(start.elapsed(), &frame);
        }
    }
}

impl DhcpService {
    /// Serves `port` until `stop` turns true.
    pub async fn serve(&self, port: UdpPort, mut stop: watch::Receiver<bool>) {
        let mut buf = vec![0u8; 65536];
        loop {
            let (len, from) = tokio::select! {
                r = port.socket.recv_from(&mut buf) => match r {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(iface = %port.iface, "receive failed: {e}");
                        continue;
                    }
                },
                _ = stop.changed() => return,
            };
            let std::net::SocketAddr::V4(from) = from else {
                continue;
            };
            self.stats.received.fetch_add(1, Ordering::Relaxed);
            record(
                &self.capture,
                from,
                SocketAddrV4::new(port.addr, SERVER_PORT),
                &buf[..len],
            );
            let msg = match Message::decode(&buf[..len]) {
                Ok(m) if m.op == 1 => m,
                Ok(_) => continue,
                Err(e) => {
                    self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                    self.tally(stats::parse_failed);
                    journal::parse_failed(from, &port.iface, &e.to_string());
                    continue;
                }
            };
            let incoming = Incoming {
                msg,
                len,
                iface: port.iface.clone(),
                iface_addr: port.addr,
                source: from,
                destination: Ipv4Addr::BROADCAST,
                direct_response: false,
            };
            self.tally(|s| stats::received(s, incoming.msg.message_type()));
            journal::received(&incoming.msg, from, port.addr, &port.iface);
            let outcome = self.decide(|engine, now| engine.handle(now, &incoming));
            match outcome {
                Ok(Outcome::Reply {
                    msg, dest, classes, ..
                }) => {
                    let bytes = msg.encode();
                    let to = if dest.to_chaddr {
                        SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT)
                    } else {
                        dest.to
                    };
                    let here = SocketAddrV4::new(port.addr, SERVER_PORT);
                    journal::answered(&incoming.msg, &msg, &classes, here, to, &port.iface);
                    record(
                        &self.capture,
                        SocketAddrV4::new(port.addr, SERVER_PORT),
                        to,
                        &bytes,
                    );
                    match port.socket.send_to(&bytes, to).await {
                        Ok(_) => self.tally(|s| stats::sent(s, msg.message_type())),
                        Err(e) => tracing::warn!(%to, "send failed: {e}"),
                    }
                    self.stats.answered.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Outcome::Silent(why)) => {
                    journal::silent(&incoming.msg, &why);
                    self.silent(&why);
                }
                Err(e) => {
                    self.tally(stats::dropped);
                    tracing::error!("query dropped: {e}");
                }
            }
        }
    }

    /// Serves an AF_PACKET `port` until `stop` turns true: frames through [`Link::answer`].
    ///
    /// [`Link::answer`]: super::link::Link::answer
    pub async fn serve_raw(&self, port: RawPort, mut stop: watch::Receiver<bool>) {
        let link = super::link::Link {
            iface: port.iface.clone(),
            addr: port.addr,
            mac: port.mac,
            port: port.port,
        };
        let mut buf = vec![0u8; 65536];
        loop {
            let len = tokio::select! {
                r = port.recv(&mut buf) => match r {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::warn!(iface = %port.iface, "receive failed: {e}");
                        continue;
                    }
                },
                _ = stop.changed() => return,
            };
            let frame = &buf[..len];
            let answer = self.decide(|engine, now| link.answer(engine, now, frame));
            match answer {
                Ok(FrameAnswer::NotForUs) => continue,
                Ok(FrameAnswer::Malformed(e)) => {
                    self.stats.received.fetch_add(1, Ordering::Relaxed);
                    self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                    self.tally(stats::parse_failed);
                    record_frame(&self.capture, frame);
                    journal::parse_failed("(a frame)", &port.iface, &e);
                }
                Ok(FrameAnswer::Silent {
                    why, kind, query, ..
                }) => {
                    self.stats.received.fetch_add(1, Ordering::Relaxed);
                    self.tally(|s| stats::received(s, kind));
                    record_frame(&self.capture, frame);
                    journal::silent(&query, &why);
                    self.silent(&why);
                }
                Ok(FrameAnswer::Reply {
                    frame: reply,
                    query,
                    reply: msg,
                    classes,
                }) => {
                    self.stats.received.fetch_add(1, Ordering::Relaxed);
                    self.tally(|s| stats::received(s, query.message_type()));
                    record_frame(&self.capture, frame);
                    journal::answered(&query, &msg, &classes, port.addr, "(client)", &port.iface);
                    record_frame(&self.capture, &reply);
                    match port.send(&reply) {
                        Ok(_) => self.tally(|s| stats::sent(s, msg.message_type())),
                        Err(e) => tracing::warn!(iface = %port.iface, "send failed: {e}"),
                    }
                    self.stats.answered.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    self.tally(stats::dropped);
                    tracing::error!("query dropped: {e}");
                }
            }
        }
    }
}

fn record_frame(capture: &Option<Capture>, frame: &[u8]) {
    if let Some(c) = capture {
        if let Ok(mut guard) = c.lock() {
            let (start, writer) = &mut *guard;
            let _ = writer.write(start.elapsed(), frame);
        }
    }
}
