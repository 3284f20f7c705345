//! The server's capacity, as a storm sees it: handling a DHCP or TFTP packet takes CPU time,
//! the process has a fixed number of workers for each, and a DHCP socket holds only so many
//! packets waiting (a full receive buffer drops, as the kernel does for any UDP socket).
//! The engines still decide everything: a packet reaches them when a worker has finished with
//! it, and their answers leave one send cost apart.
//!
//! Two servers are modelled: netbootd (its DHCP engine behind one lock, its TFTP engine on a
//! thread of its own: server/src/dhcp/service.rs, server/src/tftp/shell.rs) and Kea 2.2
//! (single-threaded by default) with tftpd-hpa (a process per transfer, forked by the
//! listener: tftp-hpa tftpd/tftpd.c main loop; no RFC 7440 windowsize among its options).

use std::collections::VecDeque;
use std::time::Duration;

use netbootd::time::Instant;

use super::link::Busy;

/// Which server the model charges for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerKind {
    Netbootd,
    KeaTftpdHpa,
}

impl std::str::FromStr for ServerKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "netbootd" => Ok(ServerKind::Netbootd),
            "kea-tftpd-hpa" => Ok(ServerKind::KeaTftpdHpa),
            _ => Err(format!(
                "{s:?}: not a server model (netbootd, kea-tftpd-hpa)"
            )),
        }
    }
}

/// Costs and limits of one server process.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Capacity {
    pub kind: ServerKind,
    /// CPU time per DHCP packet (receive, decide, send), including the lease write before an
    /// ACK leaves.
    pub dhcp_cost: Duration,
    /// DHCP packets handled at once.
    pub dhcp_workers: usize,
    /// DHCP packets the socket holds while the workers are busy; more are dropped.
    pub dhcp_backlog: usize,
    /// CPU time per read request (open the file, start the transfer; tftpd-hpa forks).
    pub tftp_request_cost: Duration,
    /// CPU time per TFTP packet received (an ACK) and per packet sent (a DATA block).
    pub tftp_packet_cost: Duration,
    /// TFTP packets handled at once.
    pub tftp_workers: usize,
    /// Whether the server grants RFC 7440 windowsize.
    pub windowsize: bool,
}

impl Capacity {
    /// The figures for `kind`, measured on this 2-core machine (shared with other builds, so
    /// on the high side), release builds, in network namespaces:
    ///
    /// DHCP: `ci/bench-dhcp.sh 3` (perfdhcp, 4-way exchanges) reported 155.8 ms of netbootd
    /// CPU per 1000 leases, about 78 µs per packet (a lease is a DISCOVER and a REQUEST),
    /// and 259.0 ms for Kea 2.2.0 with memfile, 130 µs per packet, single-threaded (its
    /// default before 2.4). The socket backlog is Linux's rmem_default (212,992 bytes) over
    /// a DHCP packet's buffer truesize (about 1,280 bytes): 166 packets.
    ///
    /// TFTP: `ci/storm-costs.sh` (curl as the client, 64 MiB at blksize 1468 lock-step, and
    /// 400 requests of a 1-byte file) reported netbootd 20.8 µs of CPU per block (an ACK in,
    /// a DATA out: 10.4 µs each) and 474 µs per request on its one engine thread; tftpd-hpa
    /// 14.9 µs per block and 424 µs per request (the listener forks a child per request;
    /// the children run in parallel, one per core).
    pub fn of(kind: ServerKind) -> Capacity {
        match kind {
            ServerKind::Netbootd => Capacity {
                kind,
                dhcp_cost: Duration::from_micros(78),
                dhcp_workers: 1,
                dhcp_backlog: 166,
                tftp_request_cost: Duration::from_micros(474),
                tftp_packet_cost: Duration::from_nanos(10_400),
                tftp_workers: 1,
                windowsize: true,
            },
            ServerKind::KeaTftpdHpa => Capacity {
                kind,
                dhcp_cost: Duration::from_micros(130),
                dhcp_workers: 1,
                dhcp_backlog: 166,
                tftp_request_cost: Duration::from_micros(424),
                tftp_packet_cost: Duration::from_nanos(7_450),
                tftp_workers: 2,
                windowsize: false,
            },
        }
    }
}

/// A server's capacity and how busy its workers are.
#[derive(Debug, Clone)]
pub struct ServerLoad {
    pub capacity: Capacity,
    pub dhcp: Workers,
    pub tftp: Workers,
}

impl ServerLoad {
    pub fn new(capacity: Capacity) -> ServerLoad {
        ServerLoad {
            dhcp: Workers::new(capacity.dhcp_workers),
            tftp: Workers::new(capacity.tftp_workers),
            capacity,
        }
    }
}

/// A pool of workers taking packets in arrival order.
///
/// Two ways to use it. [`Workers::take`] decides a packet's fate when it arrives (the DHCP
/// socket: a full backlog drops it). [`Workers::start`] and [`Workers::finish`] serve the
/// TFTP engine: a worker handles a packet, sends its answers (their cost known only once the
/// engine has answered), and only then takes the next packet, which the caller queues
/// meanwhile; so a packet needs one event (its handling done), not two (its arrival too).
#[derive(Debug, Clone)]
pub struct Workers {
    /// When each worker is free.
    free: Vec<Instant>,
    /// Workers handling a packet whose answers are not charged yet ([`Workers::start`]).
    serving: Vec<bool>,
    /// When the packets taken but not yet finished will be, oldest first.
    pending: VecDeque<Instant>,
    /// Most packets ever waiting.
    pub peak_backlog: usize,
    /// Total time packets waited for a worker.
    pub waited: Duration,
    pub handled: u64,
    pub dropped: u64,
    /// Busy time, summed over the workers.
    pub busy: Duration,
    /// Busy time per window.
    pub windows: Busy,
}

impl Workers {
    pub fn new(n: usize) -> Workers {
        Workers {
            free: vec![Instant::ZERO; n.max(1)],
            serving: vec![false; n.max(1)],
            pending: VecDeque::new(),
            peak_backlog: 0,
            waited: Duration::ZERO,
            handled: 0,
            dropped: 0,
            busy: Duration::ZERO,
            windows: Busy::default(),
        }
    }

    /// Packets waiting or being handled at `now`.
    pub fn backlog(&mut self, now: Instant) -> usize {
        while self.pending.front().is_some_and(|d| *d <= now) {
            self.pending.pop_front();
        }
        self.pending.len()
    }

    /// A packet arrives at `now` needing `cost`: when a worker has handled it, or `None` when
    /// `limit` packets are already waiting.
    pub fn take(&mut self, now: Instant, cost: Duration, limit: usize) -> Option<Instant> {
        let backlog = self.backlog(now);
        if backlog >= limit {
            self.dropped += 1;
            return None;
        }
        self.peak_backlog = self.peak_backlog.max(backlog + 1);
        let (i, free) = self
            .free
            .iter()
            .copied()
            .enumerate()
            .min_by_key(|(_, f)| *f)
            .expect("at least one worker");
        let start = free.max(now);
        let done = start + cost;
        self.free[i] = done;
        self.waited += start - now;
        self.busy += cost;
        self.windows.add(start, cost);
        self.handled += 1;
        // Workers finish out of order only when there are several; keep the queue sorted.
        let at = self.pending.partition_point(|d| *d <= done);
        self.pending.insert(at, done);
        Some(done)
    }

    /// A packet arriving at `arrival` needing `cost`, with `queued` packets already waiting
    /// for a worker: the worker that takes it and when it has handled it, or `None` when
    /// every worker is serving a packet (the caller queues it and hands it to the next
    /// worker that finishes, with [`Workers::start_on`]).
    pub fn start(
        &mut self,
        arrival: Instant,
        cost: Duration,
        queued: usize,
    ) -> Option<(usize, Instant)> {
        let busy = (0..self.free.len())
            .filter(|&w| self.serving[w] && self.free[w] > arrival)
            .count();
        self.peak_backlog = self.peak_backlog.max(queued + busy + 1);
        let (w, _) = (0..self.free.len())
            .filter(|&w| !self.serving[w])
            .map(|w| (w, self.free[w]))
            .min_by_key(|(_, f)| *f)?;
        Some((w, self.start_on(w, arrival, cost)))
    }

    /// Worker `w` takes a packet that arrived at `arrival` needing `cost`: when it has
    /// handled it.
    pub fn start_on(&mut self, w: usize, arrival: Instant, cost: Duration) -> Instant {
        let start = self.free[w].max(arrival);
        let done = start + cost;
        self.free[w] = done;
        self.serving[w] = true;
        self.waited += start - arrival;
        self.busy += cost;
        self.windows.add(start, cost);
        self.handled += 1;
        done
    }

    /// Worker `w`, done with its packet at `now`, spends `extra` sending the answers and is
    /// then free for the next packet.
    pub fn finish(&mut self, w: usize, now: Instant, extra: Duration) {
        self.serving[w] = false;
        self.work(w, now, extra);
    }

    fn work(&mut self, w: usize, now: Instant, extra: Duration) {
        if extra.is_zero() {
            return;
        }
        let start = self.free[w].max(now);
        self.free[w] = start + extra;
        self.busy += extra;
        self.windows.add(start, extra);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_worker_serves_in_order_and_a_full_backlog_drops() {
        let mut w = Workers::new(1);
        let us = Duration::from_micros;
        let at = |n| Instant::ZERO + us(n);
        assert_eq!(w.take(at(0), us(10), 2), Some(at(10)));
        assert_eq!(w.take(at(0), us(10), 2), Some(at(20)));
        assert_eq!(w.take(at(0), us(10), 2), None);
        assert_eq!(w.dropped, 1);
        assert_eq!(w.take(at(15), us(10), 2), Some(at(30)));
        assert_eq!(w.waited, us(10 + 5));
    }

    #[test]
    fn a_worker_sends_its_answers_before_it_takes_the_next_packet() {
        let mut w = Workers::new(1);
        let us = Duration::from_micros;
        let at = |n| Instant::ZERO + us(n);
        assert_eq!(w.start(at(0), us(10), 0), Some((0, at(10))));
        // Busy with the first packet (its answers not yet sent): the second one waits.
        assert_eq!(w.start(at(2), us(10), 0), None);
        w.finish(0, at(10), us(30));
        assert_eq!(w.start_on(0, at(2), us(10)), at(50));
        assert_eq!(w.waited, us(38));
        assert_eq!(w.busy, us(50));
        assert_eq!(w.peak_backlog, 2);
        w.finish(0, at(50), Duration::ZERO);
        assert_eq!(w.start(at(61), us(10), 0), Some((0, at(71))));
    }
}
