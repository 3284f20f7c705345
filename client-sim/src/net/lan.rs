//! One broadcast segment on a virtual clock, with netbootd on it in-process: its DHCP engine
//! at the link layer (`netbootd::dhcp::link`, the same code that serves AF_PACKET sockets)
//! and its TFTP engine (`netbootd::tftp::engine`, the one netbootd's tokio shell drives). Firmware timeouts pass instantly: time jumps to the next event.
//!
//! Any number of stations share the segment; frames reach the station they are addressed to
//! (a broadcast DHCP reply reaches the client its chaddr names, the only one that would keep
//! it). Each direction of the link can lose, duplicate, delay and reorder frames, drawn from
//! a seeded generator, so the same seed gives the same run.
//!
//! Every frame is kept (for transcripts and `--pcap`) unless turned off for storms, with
//! what the server decided about it (the classes a query matched, a TFTP refusal).
//!
//! Storms add two models (both off unless set): the switch's rates, latencies and buffers
//! ([`super::link`]) and the server's CPU costs and workers ([`super::capacity`]); with them a
//! frame takes time to cross the segment and a packet waits for the server.
//!
//! The servers' side (netbootd's engines, the relay agent) is in `lan/servers.rs`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::Ipv4Addr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use netbootd::dhcp::engine::Engine;
use netbootd::dhcp::link::Link;
use netbootd::tftp::engine::{Event as TftpEvent, TftpEngine};
use netbootd::time::Instant;
use netbootd::wire::dhcp::Message;
use netbootd::wire::frame::Datagram;
use netbootd::wire::MacAddr;

use super::capacity::ServerLoad;
use super::link::Links;
use super::FastMap;

mod in_flight;
mod neighbours;
mod servers;
mod workers;

use in_flight::InFlight;
use neighbours::Neighbours;

/// The in-flight lanes: frames towards the server's port (without a capacity model),
/// packets its DHCP worker finished, packets its TFTP workers finished.
const LANE_TO_SERVER: usize = 0;
const LANE_HANDLED: usize = 1;
const LANE_SERVED: usize = 2;

/// A client on the segment: a firmware model, sans-IO.
pub trait Station {
    fn poll_transmit(&mut self) -> Option<Datagram>;
    fn handle(&mut self, now: Instant, datagram: &Datagram);
    fn handle_timeout(&mut self, now: Instant);
    fn poll_timeout(&self) -> Option<Instant>;
    /// True once the station has nothing more to do on the network.
    fn finished(&self) -> bool;
    /// The station's hardware address, so frames for it reach it alone.
    fn mac(&self) -> Option<MacAddr> {
        None
    }
}

/// One frame on the wire.
#[derive(Debug, Clone)]
pub struct Frame {
    pub at: Instant,
    pub from_client: bool,
    pub datagram: Datagram,
}

/// What the server decided, in order.
#[derive(Debug, Clone)]
pub enum ServerNote {
    Dhcp {
        at: Instant,
        /// Which server (0: the primary), and its address.
        server: usize,
        server_addr: Ipv4Addr,
        /// The client's hardware address (chaddr).
        mac: MacAddr,
        xid: u32,
        query_type: Option<u8>,
        reply_type: Option<u8>,
        classes: Vec<String>,
        /// Why there was no answer, when there was none.
        silence: Option<String>,
    },
    Tftp {
        at: Instant,
        event: TftpEvent,
    },
}

/// netbootd on the segment.
pub struct Server {
    pub link: Link,
    pub engine: Engine,
    pub tftp: Option<TftpEngine>,
}

/// What one direction of the link does to frames.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkFaults {
    /// Probability a frame is lost.
    pub loss: f64,
    /// Probability a frame arrives twice.
    pub duplicate: f64,
    /// Fixed one-way delay, milliseconds.
    pub delay_ms: u64,
    /// Random extra delay up to this, milliseconds.
    pub jitter_ms: u64,
    /// Probability a frame is held back long enough for later ones to overtake it.
    pub reorder: f64,
}

/// Faults on both directions, and the server's own.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    pub seed: u64,
    pub to_server: LinkFaults,
    pub to_client: LinkFaults,
    /// A slow disk: every TFTP packet the server sends leaves this much later.
    pub tftp_delay_ms: u64,
}

/// Counts of what the faults did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FaultCounts {
    pub lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Towards {
    Server,
    Client,
    /// A packet the server's worker has finished with: the engine decides on it now.
    Handled,
}

/// A frame on its way, and where to. Kept small (64 bytes, a cache line): it is moved into
/// and out of the in-flight queues once per frame.
struct Travelling {
    towards: Towards,
    /// The TFTP worker that handled it and must still send the answers (`lan/workers.rs`).
    worker: Option<u8>,
    /// The station that sent it or that it is for, when known ([`NO_STATION`]: not): its
    /// port and its delivery are found by index (checked against the hardware address),
    /// not by hashing.
    station: u32,
    datagram: Datagram,
}

/// [`Travelling::station`] when no station is known (an `Option` would take 8 bytes).
const NO_STATION: u32 = u32::MAX;

impl Travelling {
    fn station(&self) -> Option<usize> {
        (self.station != NO_STATION).then_some(self.station as usize)
    }
}

/// One run of a set of stations on the segment: what the event loop keeps between steps.
pub struct Run {
    by_mac: FastMap<MacAddr, usize>,
    /// Each station's hardware address when `by_mac` leads to it: a frame that names its
    /// station is checked against this instead of looked up.
    macs: Vec<Option<MacAddr>>,
    /// Station timers: (deadline, station), checked against the station when popped.
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    /// The earliest deadline each station has in `timers`: a later deadline is not pushed
    /// until that one pops (so a station re-arming its timer on every packet keeps one or
    /// two entries, not one per packet).
    scheduled: Vec<Option<Instant>>,
    /// Each station's deadline as it said after the segment last called it (only the
    /// segment calls a station, so this is its `poll_timeout`): checking the heap's top
    /// against it reads one vector, not a station's state behind three pointers, which with
    /// ten thousand stations is a cache miss on every event.
    deadline: Vec<Option<Instant>>,
    /// Stations that may have something to transmit.
    dirty: Vec<usize>,
    done: Vec<bool>,
    unfinished: usize,
    /// When the next station timer and server timer are due, as [`Lan::poll`] found them
    /// for the [`Lan::step`] that follows it (nothing but the clock moves in between).
    due: Option<(Option<Instant>, Option<Instant>)>,
}

impl Run {
    pub fn new(stations: &[&mut dyn Station]) -> Run {
        let by_mac: FastMap<MacAddr, usize> = stations
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.mac().map(|m| (m, i)))
            .collect();
        Run {
            macs: stations
                .iter()
                .enumerate()
                .map(|(i, s)| s.mac().filter(|m| by_mac.get(m) == Some(&i)))
                .collect(),
            by_mac,
            timers: BinaryHeap::new(),
            scheduled: vec![None; stations.len()],
            deadline: stations.iter().map(|s| s.poll_timeout()).collect(),
            dirty: (0..stations.len()).collect(),
            done: stations.iter().map(|s| s.finished()).collect(),
            unfinished: stations.iter().filter(|s| !s.finished()).count(),
            due: None,
        }
    }

    /// Puts station `i`'s deadline `t` in the heap unless an earlier one of its is there.
    fn schedule(&mut self, i: usize, t: Instant) {
        if self.scheduled[i].is_none_or(|s| t < s) {
            self.timers.push(Reverse((t, i)));
            self.scheduled[i] = Some(t);
        }
    }

    /// The entry (t, i) left the heap: when it was station i's earliest, the station's
    /// current deadline (if any, and not the one being handled) takes its place.
    fn popped(&mut self, t: Instant, i: usize, deadline: Option<Instant>) {
        if self.scheduled[i] == Some(t) {
            self.scheduled[i] = None;
            if let Some(d) = deadline.filter(|d| *d != t && !self.done[i]) {
                self.schedule(i, d);
            }
        }
    }

    /// Station `index` has something to transmit (a frame from outside reached it).
    pub fn wake(&mut self, index: usize) {
        self.dirty.push(index);
        self.due = None;
    }

    /// True once every station is finished.
    pub fn finished(&self) -> bool {
        self.unfinished == 0
    }

    /// Stations not finished yet.
    pub fn unfinished(&self) -> usize {
        self.unfinished
    }
}

pub struct Lan {
    /// The primary server first; others (a rogue or racing server) after it.
    pub servers: Vec<Server>,
    now: Instant,
    /// Frames on their way (lanes: [`LANE_TO_SERVER`], [`LANE_HANDLED`], [`LANE_SERVED`]).
    in_flight: InFlight<Travelling, 3>,
    /// Frames that reached the server's port while every TFTP worker was busy, with their
    /// arrival, in arrival order (`lan/workers.rs`).
    waiting: std::collections::VecDeque<(Instant, Travelling)>,
    /// The send cost of the answers to the packet a TFTP worker is handling, while it is.
    charged: Option<Duration>,
    /// Hardware addresses learned from client frames, as a switch and ARP would.
    neighbours: Neighbours,
    faults: Faults,
    /// Each direction (towards the server, towards the clients) has no faults: its frames
    /// skip the fault draws (every storm).
    faultless: [bool; 2],
    rng: StdRng,
    pub fault_counts: FaultCounts,
    /// Frames sent (clients, servers), kept or not.
    pub frame_counts: (u64, u64),
    pub frames: Vec<Frame>,
    /// Keep every frame (transcripts, pcap); off for storms.
    pub keep_frames: bool,
    pub notes: Vec<ServerNote>,
    /// Indexes into `notes` of the DHCP notes about each client.
    notes_by_mac: FastMap<MacAddr, Vec<usize>>,
    /// A DHCP relay agent between the clients and the servers (RFC 2131 4.1, RFC 1542): it
    /// forwards client broadcasts to every server with this giaddr and hands the replies
    /// back, so the clients sit on another subnet than the servers.
    pub relay: Option<Ipv4Addr>,
    /// The switch's rates and buffers; `None`: an infinitely fast segment.
    pub links: Option<Links>,
    /// The primary server's CPU costs and workers; `None`: it answers instantly.
    pub load: Option<ServerLoad>,
    /// Packets the servers sent again on their own timers (TFTP retransmissions).
    pub server_retransmissions: u64,
    /// The TFTP engine's answers to one packet, reused from packet to packet.
    outgoing: Vec<netbootd::tftp::engine::Outgoing>,
}

/// The relay agent's hardware address on the clients' side.
const RELAY_MAC: MacAddr = MacAddr([0x02, 0x00, 0x5e, 0x00, 0x00, 0xfe]);

impl Lan {
    pub fn new(server: Server) -> Lan {
        Lan::with_faults(server, Faults::default())
    }

    pub fn with_faults(server: Server, faults: Faults) -> Lan {
        Lan {
            servers: vec![server],
            now: Instant::ZERO,
            in_flight: InFlight::new(),
            waiting: Default::default(),
            charged: None,
            neighbours: Neighbours::default(),
            rng: StdRng::seed_from_u64(faults.seed),
            faultless: [
                faults.to_server == LinkFaults::default(),
                faults.to_client == LinkFaults::default(),
            ],
            faults,
            fault_counts: FaultCounts::default(),
            frame_counts: (0, 0),
            frames: Vec::new(),
            keep_frames: true,
            notes: Vec::new(),
            notes_by_mac: FastMap::default(),
            relay: None,
            links: None,
            load: None,
            server_retransmissions: 0,
            outgoing: Vec::new(),
        }
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    /// The DHCP notes about the client with this hardware address, in order.
    pub fn notes_about(&self, mac: MacAddr) -> Vec<&ServerNote> {
        self.notes_by_mac
            .get(&mac)
            .map(|ix| ix.iter().map(|i| &self.notes[*i]).collect())
            .unwrap_or_default()
    }

    fn note(&mut self, note: ServerNote) {
        if let ServerNote::Dhcp { mac, .. } = &note {
            self.notes_by_mac
                .entry(*mac)
                .or_default()
                .push(self.notes.len());
        }
        self.notes.push(note);
    }

    /// Adds another server to the segment (a second DHCP server, racing or rogue).
    pub fn add_server(&mut self, server: Server) {
        self.servers.push(server);
    }

    /// The primary server.
    pub fn server(&self) -> &Server {
        &self.servers[0]
    }

    /// The primary server's address on the segment.
    pub fn server_addr(&self) -> Ipv4Addr {
        self.servers[0].link.addr
    }

    /// Runs `station` until it is finished, or `limit` of virtual time has passed.
    pub fn run(&mut self, station: &mut dyn Station, limit: Duration) {
        self.run_all(&mut [station], limit);
    }

    /// Runs every station until all are finished, or `limit` of virtual time has passed.
    /// Server timers still pending when the stations are done run on in later calls.
    pub fn run_all(&mut self, stations: &mut [&mut dyn Station], limit: Duration) {
        let end = self.now + limit;
        let mut run = Run::new(stations);
        loop {
            let Some(next) = self.poll(&mut run, stations) else {
                return;
            };
            if next > end {
                self.now = end;
                return;
            }
            self.now = self.now.max(next);
            self.step(&mut run, stations);
        }
    }

    /// Lets every station with something to say transmit, then tells when the next event
    /// (a frame arriving, a station timer, a server timer) is due: `None` when every station
    /// is finished or nothing is pending. The caller moves the clock (`advance_to`) and calls
    /// [`Lan::step`]: instantly on a virtual clock, after waiting on a real one.
    pub fn poll(&mut self, run: &mut Run, stations: &mut [&mut dyn Station]) -> Option<Instant> {
        // The list is swapped out and back, keeping its buffer (no allocation per event).
        let mut dirty = std::mem::take(&mut run.dirty);
        for &i in &dirty {
            while let Some(d) = stations[i].poll_transmit() {
                self.send(Towards::Server, d, Some(i), Duration::ZERO);
            }
            if !run.done[i] && stations[i].finished() {
                run.done[i] = true;
                run.unfinished -= 1;
            }
            let deadline = stations[i].poll_timeout();
            run.deadline[i] = deadline;
            if let Some(t) = deadline {
                run.schedule(i, t);
            }
        }
        dirty.clear();
        run.dirty = dirty;
        run.due = None;
        if run.unfinished == 0 {
            return None;
        }
        let (frame_at, timer_at, server_at) = self.pending(run);
        run.due = Some((timer_at, server_at));
        earliest(frame_at, timer_at, server_at)
    }

    /// When the next frame is due.
    fn frame_at(&mut self) -> Option<Instant> {
        self.in_flight.next_at(self.now)
    }

    /// When the next frame, station timer and server timer are due.
    fn pending(&mut self, run: &mut Run) -> (Option<Instant>, Option<Instant>, Option<Instant>) {
        let frame_at = self.frame_at();
        // Stale timers (the station moved its deadline, or finished) are dropped here.
        let timer_at = loop {
            match run.timers.peek() {
                Some(&Reverse((t, i))) if run.deadline[i] != Some(t) || run.done[i] => {
                    run.timers.pop();
                    run.popped(t, i, run.deadline[i]);
                }
                Some(Reverse((t, _))) => break Some(*t),
                None => break None,
            }
        };
        (frame_at, timer_at, self.server_deadline())
    }

    /// Moves the clock to `at` (never backwards): a real-time driver calls this with the
    /// time it woke at.
    pub fn advance_to(&mut self, at: Instant) {
        self.now = self.now.max(at);
    }

    /// Handles the earliest event due by now (a frame first, then station timers, then the
    /// servers' timers when they are due at the same time).
    pub fn step(&mut self, run: &mut Run, stations: &mut [&mut dyn Station]) {
        let (frame_at, timer_at, server_at) = match run.due.take() {
            Some((timer_at, server_at)) => (self.frame_at(), timer_at, server_at),
            None => self.pending(run),
        };
        let Some(first) = earliest(frame_at, timer_at, server_at) else {
            return;
        };
        if first > self.now {
            return;
        }
        if frame_at == Some(first) {
            let item = self.in_flight.pop(self.now).expect("a frame is due");
            match item.towards {
                Towards::Server => {
                    let station = item.station();
                    self.at_server(item.datagram, station)
                }
                Towards::Handled => self.handled(item),
                Towards::Client => {
                    self.record(false, &item.datagram);
                    let d = &item.datagram;
                    for i in self.recipients(d, item.station(), run, stations.len()) {
                        if !run.done[i] {
                            stations[i].handle(self.now, d);
                            // Its deadline is read back by the poll that always follows
                            // (after it has transmitted), not here: nothing reads it between.
                            run.dirty.push(i);
                        }
                    }
                }
            }
            return;
        }
        if timer_at == Some(first) {
            while let Some(Reverse((t, i))) = run.timers.peek().copied() {
                if t > self.now {
                    break;
                }
                run.timers.pop();
                // The station re-arms (or not) when it is polled after handling this.
                run.popped(t, i, run.deadline[i]);
                if !run.done[i] && run.deadline[i] == Some(t) {
                    stations[i].handle_timeout(self.now);
                    run.deadline[i] = stations[i].poll_timeout();
                    run.dirty.push(i);
                }
            }
            return;
        }
        self.server_timers();
    }

    /// Which stations a frame from the server reaches: one index, or all of them (no
    /// allocation per frame).
    fn recipients(
        &self,
        d: &Datagram,
        station: Option<usize>,
        run: &Run,
        n: usize,
    ) -> std::ops::Range<usize> {
        let one = |i: usize| i..i + 1;
        let by_mac = &run.by_mac;
        if d.dst_mac != MacAddr::BROADCAST {
            if let Some(i) = station.filter(|i| run.macs.get(*i) == Some(&Some(d.dst_mac))) {
                return one(i);
            }
            return match by_mac.get(&d.dst_mac) {
                Some(i) => one(*i),
                None if by_mac.is_empty() => 0..n,
                None => 0..0,
            };
        }
        // A broadcast DHCP reply: only the client its chaddr names keeps it.
        if d.src.port() == 67 {
            if let Ok(m) = Message::decode(&d.payload) {
                if let Some(i) = by_mac.get(&m.client_mac()) {
                    return one(*i);
                }
            }
        }
        0..n
    }

    /// Puts a frame on the wire towards `towards`, through that direction's faults.
    /// `station`: the station that sent it, or that it is for, when known.
    fn send(&mut self, towards: Towards, d: Datagram, station: Option<usize>, extra: Duration) {
        match towards {
            Towards::Server => self.frame_counts.0 += 1,
            Towards::Client => self.frame_counts.1 += 1,
            Towards::Handled => {}
        }
        if towards == Towards::Server {
            self.record(true, &d);
            if !d.src.ip().is_unspecified() {
                self.neighbours.learn(*d.src.ip(), d.src_mac, station);
            }
        }
        // A direction without faults (every storm) draws nothing: no copy of its settings,
        // no random numbers.
        if self.faultless[usize::from(towards != Towards::Server)] {
            if let Some(at) = self.arrival(towards, &d, station, extra, Duration::ZERO) {
                self.enter(towards, at, d, station);
            }
            return;
        }
        let f = match towards {
            Towards::Server => self.faults.to_server.clone(),
            _ => self.faults.to_client.clone(),
        };
        if f.loss > 0.0 && self.rng.gen_bool(f.loss.min(1.0)) {
            self.fault_counts.lost += 1;
            return;
        }
        let copies = if f.duplicate > 0.0 && self.rng.gen_bool(f.duplicate.min(1.0)) {
            self.fault_counts.duplicated += 1;
            2
        } else {
            1
        };
        // A duplicate is a clone sent first; the frame itself is moved, not copied again.
        if copies == 2 {
            let delay = self.fault_delay(&f);
            if let Some(at) = self.arrival(towards, &d, station, extra, delay) {
                self.enter(towards, at, d.clone(), station);
            }
        }
        let delay = self.fault_delay(&f);
        if let Some(at) = self.arrival(towards, &d, station, extra, delay) {
            self.enter(towards, at, d, station);
        }
    }

    /// The delay faults `f` add to one copy of a frame: fixed, jitter, and a reordering.
    fn fault_delay(&mut self, f: &LinkFaults) -> Duration {
        let mut delay = f.delay_ms;
        if f.jitter_ms > 0 {
            delay += self.rng.gen_range(0..=f.jitter_ms);
        }
        if f.reorder > 0.0 && self.rng.gen_bool(f.reorder.min(1.0)) {
            self.fault_counts.reordered += 1;
            delay += 2 * f.jitter_ms.max(1) + 1;
        }
        Duration::from_millis(delay)
    }

    /// When one copy of `frame`, sent `extra` after now and delayed `delay` by faults,
    /// arrives, or `None` when the switch drops it.
    fn arrival(
        &mut self,
        towards: Towards,
        frame: &Datagram,
        station: Option<usize>,
        extra: Duration,
        delay: Duration,
    ) -> Option<Instant> {
        let sent = self.now + extra + delay;
        let Some(links) = self.links.as_mut() else {
            return Some(sent);
        };
        match towards {
            Towards::Server => links.to_server(
                sent,
                (frame.src_mac, station),
                frame.payload.len(),
                frame.dst.port() == 67,
            ),
            _ => links.to_client(sent, (client_port(frame), station), frame.payload.len()),
        }
    }

    /// A frame put on the wire arrives at `at`: at the server's port, or at a client.
    fn enter(&mut self, towards: Towards, at: Instant, datagram: Datagram, station: Option<usize>) {
        let item = Travelling {
            towards,
            datagram,
            station: station.map_or(NO_STATION, |i| i as u32),
            worker: None,
        };
        match towards {
            Towards::Server => self.reach_server_port(at, item),
            _ => self.queue(at, item),
        }
    }

    /// Queues a frame for `at` (now: behind the frames already due now). Frames reaching
    /// the server's port, and packets its workers finished, mostly fall due in the order
    /// they are queued: each kind in a lane of its own.
    fn queue(&mut self, at: Instant, item: Travelling) {
        let lane = match (item.towards, item.worker) {
            (Towards::Server, _) => Some(LANE_TO_SERVER),
            (Towards::Handled, None) => Some(LANE_HANDLED),
            (Towards::Handled, Some(_)) => Some(LANE_SERVED),
            (Towards::Client, _) => None,
        };
        self.in_flight.push(self.now, at, lane, item);
    }

    #[inline]
    fn record(&mut self, from_client: bool, d: &Datagram) {
        if self.keep_frames {
            self.frames.push(Frame {
                at: self.now,
                from_client,
                datagram: d.clone(),
            });
        }
    }
}

/// The earliest of three deadlines, if any. Written out: an iterator over an array of
/// `Option<Instant>` (16 bytes each) compiled to a copy and a loop in the hottest function.
#[inline]
fn earliest(a: Option<Instant>, b: Option<Instant>, c: Option<Instant>) -> Option<Instant> {
    let min = |x: Option<Instant>, y: Option<Instant>| match (x, y) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    };
    min(min(a, b), c)
}

/// The client port a frame from the server leaves by: its destination, or for a broadcast
/// DHCP reply the client its chaddr names.
fn client_port(d: &Datagram) -> MacAddr {
    if d.dst_mac == MacAddr::BROADCAST && d.payload.len() >= 34 && d.src.port() == 67 {
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&d.payload[28..34]);
        return MacAddr(mac);
    }
    d.dst_mac
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_travelling_frame_stays_small() {
        assert!(std::mem::size_of::<super::Travelling>() <= 64);
    }
}
