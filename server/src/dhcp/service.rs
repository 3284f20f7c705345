//! The shell around the engine: one thread per interface socket (UDP or AF_PACKET, one loop
//! for both over `Port`), sleeping in recvmmsg, so a query is received, decided, written and
//! answered on the thread that was woken for it, with no hand-off between threads (on a
//! tokio worker each query cost an epoll_wait and a task wake-up besides the read); the
//! engine behind a mutex (it answers in microseconds; the control channel and the
//! reclamation timer take it too),
//! malformed packets counted and logged, every datagram optionally recorded to pcap. The shell owns the lease file: after the engine decides, the
//! changes it returns are written before the answer leaves, outside the engine's lock (so an
//! fsync never holds up other queries' decisions) but inside the file's, taken before the
//! engine's is released (so rows reach the file in the order the engine made them).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::engine::Silence;
use super::engine::{Engine, EngineError};
use super::journal;
use super::lease::{Durability, Memfile, MemfileError};
use super::port::{Answer, Batch, Port, RawServed, BATCH};
use super::stats::{self, Cause, Shared as SharedStats};
use crate::time::{Clock, Instant};
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

pub use super::port::Capture;

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
            s.at_once(update);
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
                s.at_once(|s| {
                    stats::leases_changed(s, engine.config(), engine.leases(), &changes, cause)
                });
            }
        }
        let Some(file) = self.lease_file.as_ref().filter(|_| !changes.is_empty()) else {
            return Ok(decided?);
        };
        let mut file = file.lock().map_err(|_| ServiceError::Poisoned)?;
        drop(engine);
        // A port's own thread may block; a tokio worker (the control channel, reclamation)
        // lets tokio move its other tasks away first.
        let on_worker = || {
            tokio::runtime::Handle::try_current()
                .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
        };
        let written = if self.durability == Durability::Fsync && on_worker() {
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

impl DhcpService {
    /// Serves a UDP `port` until `stop` turns true; blocks (run it on a thread of its own).
    pub fn serve(&self, port: UdpPort, stop: watch::Receiver<bool>) {
        self.run(port, stop)
    }

    /// Serves an AF_PACKET `port` until `stop` turns true: frames through [`Link::answer`].
    ///
    /// [`Link::answer`]: super::link::Link::answer
    pub fn serve_raw(&self, port: RawPort, stop: watch::Receiver<bool>) {
        self.run(RawServed::from(port), stop)
    }

    /// The loop for every kind of port: a batch of queries in, each decided in one hold of
    /// the engine, the batch's lease changes written in one write (and one fsync when the
    /// lease-sync mode asks for it) before any of its answers leaves, then the answers out.
    /// A batch is whatever queued while the last one was served, so under light load it is
    /// one query and nothing waits for company. The stop signal is read whenever the port
    /// has been quiet for [`STOP_CHECK`] and after every batch.
    ///
    /// [`STOP_CHECK`]: crate::wire::transport::STOP_CHECK
    fn run<P: Port>(&self, port: P, stop: watch::Receiver<bool>) {
        let mut batch = Batch::default();
        // Kept from batch to batch: a batch allocates nothing of its own.
        let mut answers = Vec::with_capacity(BATCH);
        let mut replies = Vec::with_capacity(BATCH);
        loop {
            if *stop.borrow() || stop.has_changed().is_err() {
                return;
            }
            if let Err(e) = port.recv(&mut batch) {
                tracing::warn!(iface = %port.iface(), "receive failed: {e}");
                // An error that repeats (the interface gone) must not spin a core.
                std::thread::sleep(crate::wire::transport::STOP_CHECK);
                continue;
            }
            if batch.is_empty() {
                continue;
            }
            let decided = self.decide(|engine, now| {
                answers.extend(batch.iter().map(|q| port.answer(engine, now, q)));
                Ok(())
            });
            if let Err(e) = decided {
                // Nothing of the batch was stored, so nothing of it is answered.
                answers.clear();
                for _ in 0..batch.len() {
                    self.tally(stats::dropped);
                }
                tracing::error!("{} queries dropped: {e}", batch.len());
                continue;
            }
            for (query, answer) in batch.iter().zip(answers.drain(..)) {
                let answer = match answer {
                    Ok(Answer::NotForUs) => continue,
                    Ok(answer) => answer,
                    Err(e) => {
                        self.tally(stats::dropped);
                        tracing::error!("query dropped: {e}");
                        continue;
                    }
                };
                self.stats.received.fetch_add(1, Ordering::Relaxed);
                if let Some(c) = &self.capture {
                    port.record_query(c, query);
                }
                match answer {
                    Answer::NotForUs | Answer::NotAQuery => {}
                    Answer::Malformed(_) => {
                        self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                        self.tally(stats::parse_failed);
                    }
                    Answer::Silent { kind, why, query } => {
                        self.tally(|s| stats::received(s, kind));
                        journal::silent(&query, &why);
                        self.silent(&why);
                    }
                    Answer::Reply(reply) => {
                        self.tally(|s| stats::received(s, reply.query.message_type()));
                        port.journal(&reply);
                        if let Some(c) = &self.capture {
                            port.record_reply(c, &reply);
                        }
                        replies.push(reply);
                    }
                }
            }
            if replies.is_empty() {
                continue;
            }
            let sent = port.send(&replies);
            self.tally(|s| {
                for r in &replies[..sent] {
                    stats::sent(s, r.reply.message_type());
                }
            });
            self.stats
                .answered
                .fetch_add(replies.len() as u64, Ordering::Relaxed);
            replies.clear();
        }
    }
}
