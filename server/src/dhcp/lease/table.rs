//! The leases in memory, indexed as Kea's memfile multi-index is (by address, by client id,
//! by hardware address, each per subnet), so finding a client's lease costs the same with
//! ten leases or a million. The engine changes it; the file ([`super::Memfile`]) only
//! records those changes.

use std::collections::BTreeMap;
use std::hash::RandomState;
use std::net::Ipv4Addr;

use super::{Lease, LeaseChange, LeaseState};

/// How many addresses of a subnet are taken, as Kea's statistics count them: assigned
/// includes declined ones (`subnet[id].assigned-addresses`, `subnet[id].declined-addresses`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SubnetCounts {
    pub assigned: u64,
    pub declined: u64,
}

#[derive(Debug, Default, Clone)]
pub struct LeaseTable {
    /// Keyed by the address as a number: the same order as `Ipv4Addr`'s, and one integer
    /// compare per step of a search instead of a four-byte slice compare (the allocator
    /// asks for a candidate address's lease at least once per DISCOVER).
    leases: BTreeMap<u32, Lease>,
    counts: BTreeMap<u32, SubnetCounts>,
    /// Subnet id, then client id (or hardware address), to address: nested so a lookup
    /// borrows the query's bytes instead of copying them into a key. The inner hasher stays
    /// std's randomly keyed SipHash: these keys come from any host on the link (HashDoS).
    /// Subnets, from the configuration and few, are a BTreeMap: no hashing at all.
    by_client_id: ClientIndex,
    by_hwaddr: ClientIndex,
}

/// hashbrown's map for `entry_ref`, which finds or makes an entry with one hash and copies
/// the key only when it is new; keyed with std's SipHash all the same.
type ClientIndex = BTreeMap<u32, hashbrown::HashMap<Vec<u8>, Ipv4Addr, RandomState>>;

/// Makes `key`'s entry in `index` point at `address`, copying the key only when it is new.
fn point(index: &mut ClientIndex, subnet: u32, key: &[u8], address: Ipv4Addr) {
    let keys = index.entry(subnet).or_default();
    *keys.entry_ref(key).or_insert(address) = address;
}

/// Forgets `key`'s entry in `index` when it still points at `address`.
fn unindex(index: &mut ClientIndex, subnet: u32, key: &[u8], address: Ipv4Addr) {
    if let Some(keys) = index.get_mut(&subnet) {
        if keys.get(key) == Some(&address) {
            keys.remove(key);
        }
    }
}

impl LeaseTable {
    pub fn new() -> Self {
        LeaseTable::default()
    }

    /// Adds or replaces the lease for its address.
    pub fn insert(&mut self, lease: Lease) {
        self.replace(lease);
    }

    /// Adds or replaces the lease for its address; the lease it replaced. A renewal (the
    /// same client in the same subnet) finds its index entries in place and leaves them.
    pub fn replace(&mut self, lease: Lease) -> Option<Lease> {
        let address = lease.address;
        if let Some(old) = self.leases.get(&u32::from(address)) {
            let renewal = old.subnet_id == lease.subnet_id
                && old.hwaddr == lease.hwaddr
                && old.client_id == lease.client_id;
            if !renewal {
                if let Some(id) = &old.client_id {
                    unindex(&mut self.by_client_id, old.subnet_id, id, address);
                }
                unindex(&mut self.by_hwaddr, old.subnet_id, &old.hwaddr, address);
            }
        }
        if let Some(id) = &lease.client_id {
            point(&mut self.by_client_id, lease.subnet_id, id, address);
        }
        if !lease.hwaddr.is_empty() {
            point(&mut self.by_hwaddr, lease.subnet_id, &lease.hwaddr, address);
        }
        self.count(&lease, true);
        let old = self.leases.insert(u32::from(address), lease);
        if let Some(old) = &old {
            self.count(old, false);
        }
        old
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
        let old = self.leases.remove(&u32::from(address))?;
        self.count(&old, false);
        if let Some(id) = &old.client_id {
            unindex(&mut self.by_client_id, old.subnet_id, id, address);
        }
        unindex(&mut self.by_hwaddr, old.subnet_id, &old.hwaddr, address);
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
        self.leases.get(&u32::from(address))
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
            .and_then(|c| self.by_client_id.get(&subnet_id)?.get(c))
            .and_then(|a| self.leases.get(&u32::from(*a)));
        by_id.or_else(|| {
            (!hwaddr.is_empty())
                .then(|| self.by_hwaddr.get(&subnet_id)?.get(hwaddr))
                .flatten()
                .and_then(|a| self.leases.get(&u32::from(*a)))
                .filter(|l| client_id.is_none() || l.client_id.is_none())
        })
    }
}
