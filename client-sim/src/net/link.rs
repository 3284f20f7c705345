//! The switch between the clients and the server, as a storm sees it: every client port and
//! the server's port carry frames at a rate, each hop adds a latency, and each egress port of
//! the switch has a buffer whose overflow is dropped (tail drop). Without it the segment is
//! infinitely fast, and 10,000 downloads of an 830 KiB ipxe.efi take no time.
//!
//! Topology: client NIC → switch → server NIC and back, store-and-forward. A frame is
//! serialised on the sender's port (a host's own transmit queue waits, it does not drop: the
//! kernel holds the socket back), crosses the cable (`latency`), queues at the switch's
//! egress port towards the receiver, where it is dropped if the bytes queued ahead of it and
//! its own exceed `switch_buffer`, and is serialised onto the receiver's port.
//!
//! Queues are FIFO and computed when a frame is sent (each port keeps the time it is busy
//! until): frames are sent in virtual-time order, so a port's departures are exact except
//! when two frames from different clients reach the switch out of their sending order (one
//! client's NIC backed up), which shifts them by one serialisation time at most.
//! A broadcast from the server is charged to the port of the client it is for (the flood to
//! the other ports is not modelled).

use std::time::Duration;

use super::FastMap;
use netbootd::time::Instant;
use netbootd::wire::MacAddr;

/// Bytes a frame occupies on the wire besides its UDP payload: UDP 8, IPv4 20, Ethernet 14
/// and FCS 4, preamble 8 and inter-frame gap 12 (IEEE 802.3 clause 4.4.2).
const OVERHEAD: u64 = 8 + 20 + 14 + 4 + 8 + 12;
/// The shortest Ethernet frame (64 bytes with FCS) plus preamble and gap.
const MIN_WIRE: u64 = 64 + 8 + 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LinkError {
    #[error("{0:?}: not a rate (say 100mbit, 1gbit, 10gbit or bits per second)")]
    Rate(String),
    #[error("{0:?}: not a size (say 512KiB, 1MiB or bytes)")]
    Size(String),
    #[error("{0:?}: not a duration (say 50us, 1ms, 2s)")]
    Duration(String),
}

/// The rates, latency and buffers of the segment.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LinkModel {
    /// Each client port's rate, bits per second.
    pub client_bps: u64,
    /// The server port's rate, bits per second.
    pub server_bps: u64,
    /// One way, host to switch (cable, PHY and the switch's forwarding).
    pub latency: Duration,
    /// Bytes each egress port of the switch can queue.
    pub switch_buffer: u64,
}

impl Default for LinkModel {
    /// 1 Gb/s machines, a 10 Gb/s server, 10 µs a hop, 512 KiB per port (a parameter: a
    /// commodity top-of-rack switch shares a few MiB between its ports).
    fn default() -> Self {
        LinkModel {
            client_bps: 1_000_000_000,
            server_bps: 10_000_000_000,
            latency: Duration::from_micros(10),
            switch_buffer: 512 * 1024,
        }
    }
}

/// `100mbit`, `1gbit`, `10gbit`, `500kbit` or plain bits per second.
pub fn parse_rate(s: &str) -> Result<u64, LinkError> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.trim_end_matches("/s");
    // 10gbps, 100mbps: bits per second.
    let t = t.strip_suffix("bps").unwrap_or(t);
    let (digits, scale) = [
        ("gbit", 1e9),
        ("mbit", 1e6),
        ("kbit", 1e3),
        ("bit", 1.0),
        ("g", 1e9),
        ("m", 1e6),
        ("k", 1e3),
    ]
    .iter()
    .find_map(|(suffix, scale)| t.strip_suffix(suffix).map(|d| (d, *scale)))
    .unwrap_or((t, 1.0));
    match digits.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok((v * scale) as u64),
        _ => Err(LinkError::Rate(s.into())),
    }
}

/// `512KiB`, `1MiB`, `64KB`, `1500` (bytes).
pub fn parse_size(s: &str) -> Result<u64, LinkError> {
    let t = s.trim().to_ascii_lowercase();
    let (digits, scale) = [
        ("gib", 1u64 << 30),
        ("mib", 1 << 20),
        ("kib", 1 << 10),
        ("gb", 1_000_000_000),
        ("mb", 1_000_000),
        ("kb", 1000),
        ("b", 1),
    ]
    .iter()
    .find_map(|(suffix, scale)| t.strip_suffix(suffix).map(|d| (d, *scale)))
    .unwrap_or((&t, 1));
    digits
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| *v >= 0.0 && v.is_finite())
        .map(|v| (v * scale as f64) as u64)
        .ok_or_else(|| LinkError::Size(s.into()))
}

/// `50us`, `1ms`, `2s`, `1.5s`, `0`.
pub fn parse_duration(s: &str) -> Result<Duration, LinkError> {
    let t = s.trim().to_ascii_lowercase();
    let (digits, scale) = [("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1.0)]
        .iter()
        .find_map(|(suffix, scale)| t.strip_suffix(suffix).map(|d| (d, *scale)))
        .unwrap_or((&t, 1.0));
    match digits.trim().parse::<f64>() {
        Ok(v) if v >= 0.0 && v.is_finite() => Ok(Duration::from_secs_f64(v * scale)),
        _ => Err(LinkError::Duration(s.into())),
    }
}

/// How busy something was in each 100 ms of virtual time: a resource 20% busy over a storm
/// may still have been the wall every machine queued at for the second that mattered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Busy(Vec<u64>);

/// The window [`Busy`] measures over.
pub const WINDOW: Duration = Duration::from_millis(100);

impl Busy {
    /// `d` of work that started at `at`, split over the windows it covers.
    pub fn add(&mut self, at: Instant, d: Duration) {
        self.add_nanos(at, d.as_nanos() as u64);
    }

    /// `d` nanoseconds of work that started at `at`, split over the windows it covers.
    #[inline]
    pub fn add_nanos(&mut self, at: Instant, mut d: u64) {
        // In nanoseconds as u64 (584 years), each window's sum too: a u128 division, and a
        // `Duration` addition (which carries nanoseconds into seconds), three times per
        // frame showed in profiles. `W` is a constant: dividing by it is a multiplication.
        const W: u64 = WINDOW.as_nanos() as u64;
        let mut at = at.as_nanos();
        while d > 0 {
            let i = (at / W) as usize;
            if self.0.len() <= i {
                self.0.resize(i + 1, 0);
            }
            let part = d.min((i as u64 + 1) * W - at);
            self.0[i] += part;
            at += part;
            d -= part;
        }
    }

    /// The busiest window's share, for `workers` working at once.
    pub fn peak(&self, workers: usize) -> f64 {
        let max = Duration::from_nanos(self.0.iter().max().copied().unwrap_or_default());
        (max.as_secs_f64() / (WINDOW.as_secs_f64() * workers.max(1) as f64)).min(1.0)
    }
}

/// When a port is free again, each way.
#[derive(Debug, Clone, Copy, Default)]
struct Port {
    /// The host's NIC, towards the switch.
    up_free: Instant,
    /// The switch's egress port, towards the host.
    down_free: Instant,
}

/// What the segment carried, for the report's bottleneck.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkCounts {
    /// Bytes on the server's port, each way (wire bytes, with headers and gaps).
    pub to_server_bytes: u64,
    pub to_clients_bytes: u64,
    /// Time the server's port was busy sending to clients, and receiving from them
    /// (nanoseconds).
    pub server_tx_busy_ns: u64,
    pub server_rx_busy_ns: u64,
    /// Frames the switch dropped (buffer full), at the server's port and at clients' ports.
    pub dropped_to_server: u64,
    pub dropped_to_clients: u64,
    /// DHCP frames among the drops towards the server.
    pub dropped_dhcp: u64,
    /// The longest the server's transmit queue got, and the switch's buffer towards it.
    pub server_tx_queue_peak_ns: u64,
    pub server_port_buffer_peak: u64,
    /// The server's port's busy time per window, sending and receiving.
    pub server_tx_windows: Busy,
    pub server_rx_windows: Busy,
}

/// The switch and its ports, as the frames go through them.
#[derive(Debug, Clone)]
pub struct Links {
    /// Fixed once made: the wire-time tables below are worked out from its rates.
    model: LinkModel,
    /// Each client port's place in `ports`, by the host's hardware address.
    port_of: FastMap<MacAddr, usize>,
    ports: Vec<Port>,
    /// The port each station last used (its hardware address, the port's place): a frame
    /// that names its station finds its port by one vector read, not a hash lookup (two per
    /// frame with ten thousand ports, most of them cache misses).
    by_station: Vec<Option<(MacAddr, usize)>>,
    server: Port,
    pub counts: LinkCounts,
    /// Wire times at the clients' rate and at the server's.
    client_wire: WireTimes,
    server_wire: WireTimes,
}

/// The wire time of every frame size up to a full Ethernet frame at one rate, worked out
/// once: a frame crosses two ports, and a division by a rate known only at run time costs
/// tens of cycles each (a constant divisor compiles to a multiplication).
#[derive(Debug, Clone)]
struct WireTimes {
    bps: u64,
    ns: Vec<u32>,
}

/// Wire bytes of the largest frame [`WireTimes`] holds: 1,500 bytes of IP, Ethernet header
/// and FCS, preamble and gap.
const TABLE_BYTES: u64 = 1500 + 14 + 4 + 8 + 12;

impl WireTimes {
    fn new(bps: u64) -> WireTimes {
        WireTimes {
            bps,
            ns: (0..=TABLE_BYTES)
                .map(|b| u32::try_from(serialise(b, bps)).unwrap_or(u32::MAX))
                .collect(),
        }
    }

    /// Exactly [`serialise`]`(bytes, bps)` at this table's rate: from the table, or divided
    /// for a frame larger than it holds.
    #[inline]
    fn of(&self, bytes: u64) -> u64 {
        match self.ns.get(bytes as usize) {
            Some(&ns) if ns != u32::MAX => u64::from(ns),
            _ => serialise(bytes, self.bps),
        }
    }
}

/// The wire time of `bytes` at `bps`, in nanoseconds. The link model counts in nanoseconds
/// (`u64`, as [`Instant`] does) rather than `Duration`s, whose additions carry nanoseconds
/// into seconds: it runs twice per frame.
fn serialise(bytes: u64, bps: u64) -> u64 {
    bytes * 8 * 1_000_000_000 / bps.max(1)
}

/// Bytes `bps` carries in `ns` nanoseconds (in 64 bits while the product fits: 1.8 s at 10
/// Gb/s; a switch buffer drains in microseconds).
fn carried(ns: u64, bps: u64) -> u64 {
    match ns.checked_mul(bps) {
        Some(bits_ns) => bits_ns / 8_000_000_000,
        None => (u128::from(ns) * u128::from(bps) / 8_000_000_000) as u64,
    }
}

/// `ns` nanoseconds after `t`.
#[inline]
fn after(t: Instant, ns: u64) -> Instant {
    Instant::from_nanos(t.as_nanos().saturating_add(ns))
}

/// Nanoseconds from `earlier` to `t`, zero when `earlier` is later.
#[inline]
fn since(t: Instant, earlier: Instant) -> u64 {
    t.as_nanos().saturating_sub(earlier.as_nanos())
}

/// A UDP payload's bytes on the wire.
pub fn wire_bytes(payload: usize) -> u64 {
    (payload as u64 + OVERHEAD).max(MIN_WIRE)
}

impl Links {
    pub fn new(model: LinkModel) -> Links {
        Links {
            client_wire: WireTimes::new(model.client_bps),
            server_wire: WireTimes::new(model.server_bps),
            model,
            port_of: FastMap::default(),
            ports: Vec::new(),
            by_station: Vec::new(),
            server: Port::default(),
            counts: LinkCounts::default(),
        }
    }

    /// The place in `ports` of the host `mac`'s port (station `station`, when the caller
    /// knows it): a port belongs to the hardware address, whichever station sends from it.
    fn client(&mut self, mac: MacAddr, station: Option<usize>) -> usize {
        let cached = station.and_then(|i| self.by_station.get(i).copied().flatten());
        match cached {
            Some((m, place)) if m == mac => place,
            _ => {
                let next = self.ports.len();
                let place = *self.port_of.entry(mac).or_insert(next);
                if place == next {
                    self.ports.push(Port::default());
                }
                if let Some(i) = station {
                    if self.by_station.len() <= i {
                        self.by_station.resize(i + 1, None);
                    }
                    self.by_station[i] = Some((mac, place));
                }
                place
            }
        }
    }

    /// A frame of `payload` UDP bytes leaves the client `mac` (station `station`, when
    /// known) at `now`: when it reaches the server, or `None` when the switch drops it.
    pub fn to_server(
        &mut self,
        now: Instant,
        (mac, station): (MacAddr, Option<usize>),
        payload: usize,
        dhcp: bool,
    ) -> Option<Instant> {
        let place = self.client(mac, station);
        let m = &self.model;
        let latency = m.latency.as_nanos() as u64;
        let bytes = wire_bytes(payload);
        let client = &mut self.ports[place];
        client.up_free = after(client.up_free.max(now), self.client_wire.of(bytes));
        let at_switch = after(client.up_free, latency);
        let backlog = carried(since(self.server.down_free, at_switch), m.server_bps);
        self.counts.server_port_buffer_peak = self.counts.server_port_buffer_peak.max(backlog);
        if backlog + bytes > m.switch_buffer {
            self.counts.dropped_to_server += 1;
            self.counts.dropped_dhcp += u64::from(dhcp);
            return None;
        }
        let wire = self.server_wire.of(bytes);
        let start = self.server.down_free.max(at_switch);
        self.counts.server_rx_windows.add_nanos(start, wire);
        self.server.down_free = after(start, wire);
        self.counts.to_server_bytes += bytes;
        self.counts.server_rx_busy_ns += wire;
        Some(after(self.server.down_free, latency))
    }

    /// A frame of `payload` UDP bytes leaves the server at `now` for the client `mac`
    /// (station `station`, when known): when it reaches the client, or `None` when the
    /// switch drops it.
    pub fn to_client(
        &mut self,
        now: Instant,
        (mac, station): (MacAddr, Option<usize>),
        payload: usize,
    ) -> Option<Instant> {
        let place = self.client(mac, station);
        let m = &self.model;
        let latency = m.latency.as_nanos() as u64;
        let bytes = wire_bytes(payload);
        let wire = self.server_wire.of(bytes);
        let start = self.server.up_free.max(now);
        self.counts.server_tx_queue_peak_ns =
            self.counts.server_tx_queue_peak_ns.max(since(start, now));
        self.server.up_free = after(start, wire);
        self.counts.server_tx_windows.add_nanos(start, wire);
        self.counts.to_clients_bytes += bytes;
        self.counts.server_tx_busy_ns += wire;
        let at_switch = after(self.server.up_free, latency);
        let client = &mut self.ports[place];
        let backlog = carried(since(client.down_free, at_switch), m.client_bps);
        if backlog + bytes > m.switch_buffer {
            self.counts.dropped_to_clients += 1;
            return None;
        }
        client.down_free = after(client.down_free.max(at_switch), self.client_wire.of(bytes));
        Some(after(client.down_free, latency))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_sizes_and_durations_parse_and_bad_ones_are_named() {
        assert_eq!(parse_rate("1gbit"), Ok(1_000_000_000));
        assert_eq!(parse_rate("100mbit"), Ok(100_000_000));
        assert_eq!(parse_rate("10Gbps"), Ok(10_000_000_000));
        assert_eq!(parse_size("512KiB"), Ok(524_288));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_duration("50us"), Ok(Duration::from_micros(50)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(
            parse_rate("fast").unwrap_err().to_string(),
            "\"fast\": not a rate (say 100mbit, 1gbit, 10gbit or bits per second)"
        );
        assert!(parse_size("-1").is_err());
    }

    #[test]
    fn wire_times_from_the_table_are_the_divisions_they_replace() {
        for bps in [
            1_000,
            100_000_000,
            1_000_000_000,
            10_000_000_000,
            3_333_333_333,
        ] {
            let t = WireTimes::new(bps);
            for bytes in [0, 1, 84, 1034, 1538, TABLE_BYTES, TABLE_BYTES + 1, 9000] {
                assert_eq!(t.of(bytes), serialise(bytes, bps), "{bytes} at {bps}");
            }
        }
        // 1,538 wire bytes at 1 Gb/s: 12,304 ns; at 10 Gb/s: 1,230 ns (rounded down).
        assert_eq!(WireTimes::new(1_000_000_000).of(1538), 12_304);
        assert_eq!(WireTimes::new(10_000_000_000).of(1538), 1_230);
    }

    #[test]
    fn a_port_belongs_to_its_hardware_address_whichever_station_names_it() {
        let mut links = Links::new(LinkModel {
            client_bps: 1_000_000_000,
            server_bps: 10_000_000_000,
            latency: Duration::ZERO,
            switch_buffer: 1 << 20,
        });
        let (a, b) = (MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2]));
        let t0 = Instant::ZERO;
        // 1,000-byte payloads: 1,066 wire bytes, 8,528 ns on a client port, 852 on the server's.
        let first = links.to_server(t0, (a, Some(0)), 1000, false).unwrap();
        // Station 0 now sends from b: b's port is idle, so its frame waits for the server's
        // port only, not behind a's frame on a's port.
        let other = links.to_server(t0, (b, Some(0)), 1000, false).unwrap();
        assert_eq!(other - first, Duration::from_nanos(852));
        // a's port, reached by its address alone, still holds the first frame's wire time.
        let second = links.to_server(t0, (a, None), 1000, false).unwrap();
        let third = links.to_server(t0, (a, Some(0)), 1000, false).unwrap();
        assert_eq!(second - first, Duration::from_nanos(8_528));
        assert_eq!(third - second, Duration::from_nanos(8_528));
    }

    #[test]
    fn a_full_buffer_drops_the_tail_and_the_port_sets_the_pace() {
        let mut links = Links::new(LinkModel {
            client_bps: 1_000_000_000,
            server_bps: 100_000_000,
            latency: Duration::ZERO,
            switch_buffer: 10_000,
        });
        // 1,000-byte payloads: 1,066 wire bytes, 10.66 µs at 1 Gb/s, 85.28 µs at 100 Mb/s.
        let arrivals: Vec<Option<Instant>> = (0..12u8)
            .map(|i| {
                links.to_server(
                    Instant::ZERO,
                    (MacAddr([2, 0, 0, 0, 0, i]), None),
                    1000,
                    true,
                )
            })
            .collect();
        let delivered = arrivals.iter().flatten().count();
        assert!((9..12).contains(&delivered), "{arrivals:?}");
        assert_eq!(links.counts.dropped_to_server, 12 - delivered as u64);
        assert_eq!(links.counts.dropped_dhcp, 12 - delivered as u64);
        let last = arrivals.iter().flatten().last().unwrap();
        // The server port serialised them one after another.
        assert!(*last >= Instant::ZERO + Duration::from_nanos(85_280 * delivered as u64));
    }
}
