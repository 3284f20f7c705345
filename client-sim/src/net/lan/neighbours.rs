//! The hardware addresses the servers' side has learned from client frames, as a switch and
//! ARP would, with the station that sent from each (so a reply finds its client's port and
//! its delivery by index).

use std::net::Ipv4Addr;

use netbootd::wire::MacAddr;

use crate::net::FastMap;

/// Addresses learned from client frames.
#[derive(Default)]
pub(super) struct Neighbours {
    by_ip: FastMap<Ipv4Addr, (MacAddr, Option<usize>)>,
    /// The (address, hardware address) each station last taught `by_ip`, while that entry
    /// still names it: a station's frames from the same address teach nothing new, and
    /// checking this vector costs less than a hash insert per client frame.
    learned: Vec<Option<(Ipv4Addr, MacAddr)>>,
}

impl Neighbours {
    /// A client frame from `ip` at `mac` (sent by `station`, when known): the servers'
    /// side answers `ip` at `mac` from now on.
    pub(super) fn learn(&mut self, ip: Ipv4Addr, mac: MacAddr, station: Option<usize>) {
        let known = Some((ip, mac));
        if station.is_some_and(|i| self.learned.get(i) == Some(&known)) {
            return;
        }
        // The station the entry named before no longer owns it.
        if let Some((_, Some(old))) = self.by_ip.insert(ip, (mac, station)) {
            self.learned[old] = None;
        }
        if let Some(i) = station {
            if self.learned.len() <= i {
                self.learned.resize(i + 1, None);
            }
            self.learned[i] = known;
        }
    }

    /// The hardware address `ip` was last seen at, and the station that sent from it.
    /// `station`: the one likely to own `ip` (an answer goes back to the sender), whose own
    /// record, while it holds, is the entry itself (no hash lookup).
    pub(super) fn get(
        &self,
        ip: &Ipv4Addr,
        station: Option<usize>,
    ) -> Option<(MacAddr, Option<usize>)> {
        if let Some(i) = station {
            if let Some(Some((known, mac))) = self.learned.get(i) {
                if known == ip {
                    return Some((*mac, Some(i)));
                }
            }
        }
        self.by_ip.get(ip).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_frame_from_an_address_wins_even_when_its_station_taught_it_before() {
        let mut n = Neighbours::default();
        let ip = Ipv4Addr::new(10, 0, 0, 5);
        let (a, b) = (MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2]));
        n.learn(ip, a, Some(0));
        assert_eq!(n.get(&ip, None), Some((a, Some(0))));
        n.learn(ip, b, Some(1));
        assert_eq!(n.get(&ip, None), Some((b, Some(1))));
        // Station 0's record no longer holds: the entry is station 1's.
        assert_eq!(n.get(&ip, Some(0)), Some((b, Some(1))));
        assert_eq!(n.get(&ip, Some(1)), Some((b, Some(1))));
        // Station 0 sends from the address again: it is its address again.
        n.learn(ip, a, Some(0));
        assert_eq!(n.get(&ip, None), Some((a, Some(0))));
        n.learn(ip, b, None);
        assert_eq!(n.get(&ip, None), Some((b, None)));
        assert_eq!(n.get(&ip, Some(0)), Some((b, None)));
        n.learn(ip, a, Some(0));
        assert_eq!(n.get(&ip, None), Some((a, Some(0))));
        assert_eq!(n.get(&Ipv4Addr::new(10, 0, 0, 6), Some(0)), None);
    }
}
