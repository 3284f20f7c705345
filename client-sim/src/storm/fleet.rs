//! Many machines as one station, for a storm on a real interface in real time (`bootsim
//! storm --iface IF`): the interface driver runs one station, so the fleet hands it every
//! machine's frames in turn and gives each machine the frames addressed to it (its MAC, or
//! for a broadcast DHCP reply the chaddr). The interface answers ARP for every address its
//! DHCPACKs gave (net/iface.rs), so each machine has its own MAC and address on the wire.

use std::collections::HashMap;

use netbootd::time::Instant;
use netbootd::wire::frame::Datagram;
use netbootd::wire::MacAddr;

use super::power::Machine;
use crate::net::lan::Station;

pub struct Fleet {
    pub machines: Vec<Machine>,
    by_mac: HashMap<MacAddr, usize>,
    /// The machine whose frames go out next (round robin, so none starves).
    next: usize,
}

impl Fleet {
    pub fn new(machines: Vec<Machine>) -> Fleet {
        let by_mac = machines
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.mac().map(|mac| (mac, i)))
            .collect();
        Fleet {
            machines,
            by_mac,
            next: 0,
        }
    }

    fn recipient(&self, d: &Datagram) -> Option<usize> {
        if d.dst_mac != MacAddr::BROADCAST {
            return self.by_mac.get(&d.dst_mac).copied();
        }
        // A broadcast DHCP reply: the machine its chaddr names (BOOTP chaddr at offset 28).
        if d.src.port() == 67 && d.payload.len() >= 34 {
            let mut mac = [0u8; 6];
            mac.copy_from_slice(&d.payload[28..34]);
            return self.by_mac.get(&MacAddr(mac)).copied();
        }
        None
    }
}

impl Station for Fleet {
    fn poll_transmit(&mut self) -> Option<Datagram> {
        let n = self.machines.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            if let Some(d) = self.machines[i].poll_transmit() {
                self.next = (i + 1) % n;
                return Some(d);
            }
        }
        None
    }
    fn handle(&mut self, now: Instant, d: &Datagram) {
        if let Some(i) = self.recipient(d) {
            self.machines[i].handle(now, d);
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        for m in &mut self.machines {
            if m.poll_timeout().is_some_and(|t| t <= now) && !m.finished() {
                m.handle_timeout(now);
            }
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.machines
            .iter()
            .filter(|m| !m.finished())
            .filter_map(|m| m.poll_timeout())
            .min()
    }
    fn finished(&self) -> bool {
        self.machines.iter().all(|m| m.finished())
    }
}
