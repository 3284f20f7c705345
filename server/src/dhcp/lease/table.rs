//! The leases in memory, indexed as Kea's memfile multi-index is (by address, by client id,
//! by hardware address, each per subnet), so finding a client's lease costs the same with
//! ten leases or a million. The engine changes it; the file ([`super::Memfile`]) only
//! records those changes.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

use super::{Lease, LeaseChange, LeaseState};

/// How many addresses of a subnet are taken, as Kea's statistics count them: assigned
/// includes declined ones (`subnet[id].assigned-addresses`, `subnet[id].declined-addresses`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SubnetCounts {
    pub assigned: u64,
    pub declined: u64,
}

/// The DHCP engine's hash maps. std's hasher draws random keys for every map, so a client
/// cannot choose keys that collide; under `cfg(fuzzing)` (set by `cargo afl`) the keys are
/// fixed instead, so that one input takes one path through the maps every time it runs
/// (AFL's stability, which fell to 42.5% for dhcp_engine with random keys).
#[cfg(not(fuzzing))]
pub(crate) type Map<K, V> = HashMap<K, V>;
#[cfg(fuzzing)]
pub(crate) type Map<K, V> =
    HashMap<K, V, std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher>>;

#[derive(Debug, Default, Clone)]
pub struct LeaseTable {
    leases: BTreeMap<Ipv4Addr, Lease>,
    counts: Map<u32, SubnetCounts>,
    /// (subnet id, client id) and (subnet id, hardware address) to address.
    by_client_id: Map<(u32, Vec<u8>), Ipv4Addr>,
    by_hwaddr: Map<(u32, Vec<u8>), Ipv4Addr>,
}

impl LeaseTable {
    pub fn new() -> Self {
        LeaseTable::default()
    }

    /// Adds or replaces the lease for its address.
    pub fn insert(&mut self, lease: Lease) {
        self.remove(lease.address);
        if let Some(id) = &lease.client_id {
            self.by_client_id
                .insert((lease.subnet_id, id.clone()), lease.address);
        }
        if !lease.hwaddr.is_empty() {
            self.by_hwaddr
                .insert((lease.subnet_id, lease.hwaddr.clone()), lease.address);
        }
        self.count(&lease, true);
        self.leases.insert(lease.address, lease);
    }

    fn count(&mut self, lease: &Lease, added: bool) {
        let held = matches!(lease.state, LeaseState::Default | LeaseState::Declined);
        let declined = lease.state == LeaseState::Declined;
        let c = self.counts.entry(lease.subnet_id).or_default();
        let step = |n: &mut u64, yes: bool| {
            if yes {
                *n = if added { *n + 1 } else { n.saturating_sub(1) };
            }
        };
        step(&mut c.assigned, held);
        step(&mut c.declined, declined);
    }

    /// The subnet's assigned and declined addresses.
    pub fn counts(&self, subnet_id: u32) -> SubnetCounts {
        self.counts.get(&subnet_id).copied().unwrap_or_default()
    }

    pub fn remove(&mut self, address: Ipv4Addr) -> Option<Lease> {
        let old = self.leases.remove(&address)?;
        self.count(&old, false);
        if let Some(id) = &old.client_id {
            let key = (old.subnet_id, id.clone());
            if self.by_client_id.get(&key) == Some(&address) {
                self.by_client_id.remove(&key);
            }
        }
        let key = (old.subnet_id, old.hwaddr.clone());
        if self.by_hwaddr.get(&key) == Some(&address) {
            self.by_hwaddr.remove(&key);
        }
        Some(old)
    }

    /// Applies a change as replaying a lease file does (LeaseFileLoader::load: a row with
    /// valid_lifetime 0 deletes).
    pub fn apply(&mut self, change: &LeaseChange) {
        match change {
            LeaseChange::Upsert(lease) => self.insert(lease.clone()),
            LeaseChange::Delete(lease) => {
                self.remove(lease.address);
            }
        }
    }

    pub fn get(&self, address: Ipv4Addr) -> Option<&Lease> {
        self.leases.get(&address)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Lease> {
        self.leases.values()
    }

    pub fn len(&self) -> usize {
        self.leases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.leases.is_empty()
    }

    /// The lease a client holds in a subnet, by client id first when `client_id` is given
    /// (match-client-id), else by hardware address.
    pub fn find_client(
        &self,
        subnet_id: u32,
        hwaddr: &[u8],
        client_id: Option<&[u8]>,
    ) -> Option<&Lease> {
        let by_id = client_id
            .and_then(|c| self.by_client_id.get(&(subnet_id, c.to_vec())))
            .and_then(|a| self.leases.get(a));
        by_id.or_else(|| {
            (!hwaddr.is_empty())
                .then(|| self.by_hwaddr.get(&(subnet_id, hwaddr.to_vec())))
                .flatten()
                .and_then(|a| self.leases.get(a))
                .filter(|l| client_id.is_none() || l.client_id.is_none())
        })
    }
}
