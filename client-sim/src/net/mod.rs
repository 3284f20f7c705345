//! Where the firmware models meet servers: an in-process segment with netbootd on it.

pub mod capacity;
pub mod embedded;
pub mod ether;
pub mod iface;
pub mod lan;
pub mod link;
pub mod realtime;

use std::time::Duration;

use netbootd::kea::model::Config;
use netbootd::time::Instant;
use netbootd::wire::MacAddr;

use lan::{ServerNote, Station};

/// A map on the segment's per-frame path (a MAC's port, an address's MAC): foldhash instead
/// of SipHash, whose DoS resistance buys nothing when the keys are the simulated machines'
/// own addresses, and costs a tenth of a storm's time.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

/// Where the chain driver sends a station's frames: the in-process segment (virtual time,
/// the server's decisions visible) or a real interface (real time, the server a black box).
pub trait Network {
    fn run(&mut self, station: &mut dyn Station, limit: Duration);
    fn now(&self) -> Instant;
    /// What the server decided so far (empty when the server is not ours to see).
    fn notes(&self) -> &[ServerNote];
    /// The DHCP notes about one client.
    fn notes_about(&self, mac: MacAddr) -> Vec<&ServerNote> {
        self.notes()
            .iter()
            .filter(|n| matches!(n, ServerNote::Dhcp { mac: m, .. } if *m == mac))
            .collect()
    }
    /// The server's Kea config, when it is netbootd in-process (for diagnoses).
    fn config(&self) -> Option<&Config>;
    /// The primary server's address, when it is netbootd in-process.
    fn server_addr(&self) -> Option<std::net::Ipv4Addr> {
        None
    }
    /// The address the server acknowledged for `mac` last.
    fn leased(&self, mac: MacAddr) -> Option<std::net::Ipv4Addr>;
}

impl Network for lan::Lan {
    fn run(&mut self, station: &mut dyn Station, limit: Duration) {
        lan::Lan::run(self, station, limit)
    }
    fn now(&self) -> Instant {
        lan::Lan::now(self)
    }
    fn notes(&self) -> &[ServerNote] {
        &self.notes
    }
    fn notes_about(&self, mac: MacAddr) -> Vec<&ServerNote> {
        lan::Lan::notes_about(self, mac)
    }
    fn config(&self) -> Option<&Config> {
        Some(self.servers[0].engine.config())
    }
    fn server_addr(&self) -> Option<std::net::Ipv4Addr> {
        Some(self.servers[0].link.addr)
    }
    fn leased(&self, mac: MacAddr) -> Option<std::net::Ipv4Addr> {
        self.servers[0]
            .engine
            .leases()
            .iter()
            .find(|l| l.hwaddr == mac.as_bytes())
            .map(|l| l.address)
    }
}
