//! The primary server's workers between its port and its engines, when a storm models its
//! capacity ([`crate::net::capacity`]): a frame reaching the port waits for a worker, and the
//! engine decides on it when the worker has handled it.
//!
//! One event per client frame: a frame's fate at the workers is decided when it is put on
//! the wire, with the time it will reach the server's port, and only its handling is an
//! event. The port delivers frames in the order they are sent (the switch's egress queue
//! towards the server is FIFO: [`crate::net::link::Links::to_server`]), so deciding then
//! is deciding in arrival order. DHCP packets are taken at once (the socket's backlog drops
//! them or not: [`Workers::take`]). A TFTP worker sends the answers to its packet before it
//! takes the next one (netbootd's engine thread: receive, decide, send, receive; tftp-hpa's
//! tftpd children alike), whose cost is known only once the engine has answered, so a
//! packet that finds every worker busy waits in `waiting` until one finishes
//! ([`Workers::start`], [`Workers::finish`]). Against the two events per frame before, only
//! the order of events at one instant differs (a frame arriving exactly when a worker
//! finishes), and with several workers (the tftpd-hpa model) which one takes a packet
//! that arrives while another is still sending.
//!
//! [`Workers::take`]: crate::net::capacity::Workers::take
//! [`Workers::start`]: crate::net::capacity::Workers::start
//! [`Workers::finish`]: crate::net::capacity::Workers::finish

use std::time::Duration;

use netbootd::time::Instant;

use super::{Lan, Towards, Travelling};
use crate::net::capacity::Capacity;

impl Lan {
    /// A client's frame will reach the server's port at `at`: with a capacity model it
    /// goes to the workers, otherwise to the server when it arrives.
    pub(super) fn reach_server_port(&mut self, at: Instant, item: Travelling) {
        let Some(load) = self.load.as_mut() else {
            return self.queue(at, item);
        };
        let c = &load.capacity;
        let port = item.datagram.dst.port();
        if port == 67 {
            if let Some(done) = load.dhcp.take(at, c.dhcp_cost, c.dhcp_backlog) {
                self.queue(done, handled(item, None));
            }
            return;
        }
        match load.tftp.start(at, tftp_cost(c, port), self.waiting.len()) {
            Some((w, done)) => self.queue(done, handled(item, Some(w))),
            None => self.waiting.push_back((at, item)),
        }
    }

    /// A worker has handled a packet: the server decides on it now; a TFTP worker then
    /// sends the answers and takes the next waiting packet.
    pub(super) fn handled(&mut self, item: Travelling) {
        let station = item.station();
        let Some(w) = item.worker.map(usize::from) else {
            return self.at_server(item.datagram, station);
        };
        self.charged = Some(Duration::ZERO);
        self.at_server(item.datagram, station);
        let mut extra = self.charged.take().unwrap_or_default();
        let Some(load) = self.load.as_mut() else {
            return;
        };
        // The model as calibrated (ci/storm-calibrate.sh) charges the sends only when no
        // packet reached the port while the worker handled the one they answer: it took the
        // next packet on arrival, and the worker was then no longer free at the instant the
        // answers were charged to. Charging them always makes 10,000 machines powered on
        // over 60 s (ci/bench-storm.sh) hit netbootd's transfer limit: a model change of its
        // own, not made here.
        if self
            .waiting
            .front()
            .is_some_and(|(arrival, _)| *arrival < self.now)
        {
            extra = Duration::ZERO;
        }
        load.tftp.finish(w, self.now, extra);
        if let Some((arrival, next)) = self.waiting.pop_front() {
            let cost = tftp_cost(&load.capacity, next.datagram.dst.port());
            let done = load.tftp.start_on(w, arrival, cost);
            self.queue(done, handled(next, Some(w)));
        }
    }
}

/// What handling a TFTP packet to server port `port` costs: a request (port 69) or a packet
/// of a transfer.
fn tftp_cost(c: &Capacity, port: u16) -> Duration {
    if port == 69 {
        c.tftp_request_cost
    } else {
        c.tftp_packet_cost
    }
}

/// `item`, handled by a worker (`worker`: the TFTP worker that must still send the answers).
fn handled(item: Travelling, worker: Option<usize>) -> Travelling {
    Travelling {
        towards: Towards::Handled,
        // A pool has a worker per core or thread: a handful.
        worker: worker.map(|w| w as u8),
        ..item
    }
}
