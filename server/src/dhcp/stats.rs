//! The DHCPv4 statistics Kea keeps, under Kea's names (src/bin/dhcp4/dhcp4_srv.cc
//! `processPacketBufferSend` and `processPacketAndSendResponse`, src/lib/dhcpsrv
//! cfg_subnets4.cc `updateStatistics`, alloc_engine.cc): packets received and sent by type,
//! drops, and per subnet the addresses there are, taken, declined and reclaimed. Read by
//! `statistic-get` on the control channel and by the Prometheus endpoint.

use std::sync::{Arc, Mutex};

use super::engine::{ACK, DECLINE, DISCOVER, INFORM, NAK, OFFER, RELEASE, REQUEST};
use super::lease::{LeaseChange, LeaseTable};
use crate::control::stats::Statistics;
use crate::kea::model::Config;

pub type Shared = Arc<Mutex<Statistics>>;

/// What Kea's statistic for a received message type is called.
fn received_name(kind: Option<u8>) -> &'static str {
    match kind {
        Some(DISCOVER) => "pkt4-discover-received",
        Some(OFFER) => "pkt4-offer-received",
        Some(REQUEST) => "pkt4-request-received",
        Some(ACK) => "pkt4-ack-received",
        Some(NAK) => "pkt4-nak-received",
        Some(RELEASE) => "pkt4-release-received",
        Some(DECLINE) => "pkt4-decline-received",
        Some(INFORM) => "pkt4-inform-received",
        _ => "pkt4-unknown-received",
    }
}

const GLOBAL: &[&str] = &[
    "cumulative-assigned-addresses",
    "declined-addresses",
    "pkt4-ack-received",
    "pkt4-ack-sent",
    "pkt4-decline-received",
    "pkt4-discover-received",
    "pkt4-inform-received",
    "pkt4-nak-received",
    "pkt4-nak-sent",
    "pkt4-offer-received",
    "pkt4-offer-sent",
    "pkt4-parse-failed",
    "pkt4-receive-drop",
    "pkt4-received",
    "pkt4-release-received",
    "pkt4-request-received",
    "pkt4-sent",
    "pkt4-unknown-received",
    "reclaimed-declined-addresses",
    "reclaimed-leases",
    "v4-allocation-fail",
    "v4-allocation-fail-classes",
    "v4-allocation-fail-no-pools",
    "v4-allocation-fail-shared-network",
    "v4-allocation-fail-subnet",
    "v4-reservation-conflicts",
];

const PER_SUBNET: &[&str] = &[
    "assigned-addresses",
    "cumulative-assigned-addresses",
    "declined-addresses",
    "reclaimed-declined-addresses",
    "reclaimed-leases",
    "v4-reservation-conflicts",
];

/// `subnet[ID].NAME`, Kea's name of a per-subnet statistic, written on the stack: the
/// statistics a lease change updates are looked up by it several times per lease, and a
/// String each time was an allocation each. The longest, with the largest id, is 48 bytes.
struct SubnetStat {
    text: [u8; 80],
    len: usize,
}

impl SubnetStat {
    fn new(id: u32, name: &str) -> Self {
        let mut s = SubnetStat {
            text: [0; 80],
            len: 0,
        };
        let mut digits = [0; 20];
        let id = super::lease::decimal(u64::from(id), &mut digits).as_bytes();
        // Copied rather than formatted, whole parts only: a name too long for the buffer
        // is cut before the part that does not fit (none of Kea's is that long).
        for part in [b"subnet[".as_slice(), id, b"].", name.as_bytes()] {
            if part.len() > s.text.len() - s.len {
                break;
            }
            s.text[s.len..s.len + part.len()].copy_from_slice(part);
            s.len += part.len();
        }
        s
    }
}

impl std::ops::Deref for SubnetStat {
    type Target = str;

    fn deref(&self) -> &str {
        // SAFETY: `text[..len]` is whole `&str`s and ASCII digits, copied in `new`: UTF-8.
        // (Checking it again cost more than the lookup it names, several per lease.)
        unsafe { std::str::from_utf8_unchecked(&self.text[..self.len]) }
    }
}

/// The statistics a freshly configured Kea has: every counter at zero, each subnet's
/// `total-addresses` (its pools' sizes) and the taken addresses recounted from the leases
/// (LeaseMgr::recountLeaseStats4).
pub fn initialise(stats: &mut Statistics, config: &Config, leases: &LeaseTable) {
    for name in GLOBAL {
        if *name != "declined-addresses" && stats.value(name).is_none() {
            stats.set(name, 0);
        }
    }
    let mut declined = 0;
    for subnet in &config.subnets {
        let total: u64 = subnet.pools.iter().map(|p| p.size()).sum();
        stats.set(&SubnetStat::new(subnet.id, "total-addresses"), total as i64);
        for name in PER_SUBNET {
            let full = SubnetStat::new(subnet.id, name);
            let counted = matches!(*name, "assigned-addresses" | "declined-addresses");
            if !counted && stats.value(&full).is_none() {
                stats.set(&full, 0);
            }
        }
        let counts = leases.counts(subnet.id);
        stats.set(
            &SubnetStat::new(subnet.id, "assigned-addresses"),
            counts.assigned as i64,
        );
        stats.set(
            &SubnetStat::new(subnet.id, "declined-addresses"),
            counts.declined as i64,
        );
        declined += counts.declined as i64;
    }
    stats.set("declined-addresses", declined);
}

/// Removes every per-subnet statistic (before a new configuration counts its own).
pub fn remove_subnets(stats: &mut Statistics) {
    stats.retain(|name| !name.starts_with("subnet["));
}

/// A query arrived and decoded (`kind`: its message type).
pub fn received(stats: &mut Statistics, kind: Option<u8>) {
    stats.add("pkt4-received", 1);
    stats.add(received_name(kind), 1);
}

/// A datagram that does not decode: Kea counts it received, unparsable and dropped.
pub fn parse_failed(stats: &mut Statistics) {
    stats.add("pkt4-received", 1);
    stats.add("pkt4-parse-failed", 1);
    stats.add("pkt4-receive-drop", 1);
}

/// A query dropped without an answer it expected.
pub fn dropped(stats: &mut Statistics) {
    stats.add("pkt4-receive-drop", 1);
}

/// A reply left.
pub fn sent(stats: &mut Statistics, kind: Option<u8>) {
    stats.add("pkt4-sent", 1);
    let name = match kind {
        Some(OFFER) => "pkt4-offer-sent",
        Some(ACK) => "pkt4-ack-sent",
        Some(NAK) => "pkt4-nak-sent",
        _ => return,
    };
    stats.add(name, 1);
}

/// Why leases changed, which decides what the change counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A client's query: new leases are allocations (cumulative-assigned-addresses).
    Query,
    /// An operator's lease command (lease4-add, -del, -update): counts only.
    Command,
    /// Reclamation of expired leases (reclaimed-leases).
    Reclaim,
    /// lease4-wipe: Kea recounts every subnet afterwards (LeaseMgr::recountLeaseStats4),
    /// a new sample for each whether it changed or not.
    Recount,
}

/// After the engine changed leases: each subnet's taken and declined addresses follow the
/// lease table, and the change counts as its cause says.
pub fn leases_changed(
    stats: &mut Statistics,
    config: &Config,
    leases: &LeaseTable,
    changes: &[LeaseChange],
    cause: Cause,
) {
    if cause == Cause::Recount {
        let mut declined = 0;
        for subnet in &config.subnets {
            let counts = leases.counts(subnet.id);
            let assigned = counts.assigned as i64;
            stats.set(&SubnetStat::new(subnet.id, "assigned-addresses"), assigned);
            stats.set(
                &SubnetStat::new(subnet.id, "declined-addresses"),
                counts.declined as i64,
            );
            declined += counts.declined as i64;
        }
        stats.set("declined-addresses", declined);
        return;
    }
    let reclaimed = cause == Cause::Reclaim;
    let mut subnets: smallvec::SmallVec<[u32; 4]> =
        changes.iter().map(|c| c.lease().subnet_id).collect();
    subnets.sort_unstable();
    subnets.dedup();
    for id in subnets {
        let counts = leases.counts(id);
        let assigned_name = SubnetStat::new(id, "assigned-addresses");
        let before = stats.value(&assigned_name).unwrap_or(0);
        let now = counts.assigned as i64;
        if now != before {
            stats.set(&assigned_name, now);
        }
        if now > before && cause == Cause::Query {
            let cumulative = SubnetStat::new(id, "cumulative-assigned-addresses");
            stats.add(&cumulative, now - before);
            stats.add("cumulative-assigned-addresses", now - before);
        }
        let declined_name = SubnetStat::new(id, "declined-addresses");
        let before = stats.value(&declined_name).unwrap_or(0);
        let now = counts.declined as i64;
        if now != before {
            stats.set(&declined_name, now);
            stats.add("declined-addresses", now - before);
        }
        if reclaimed {
            let n = changes.iter().filter(|c| c.lease().subnet_id == id).count() as i64;
            stats.add(&SubnetStat::new(id, "reclaimed-leases"), n);
            stats.add("reclaimed-leases", n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SubnetStat;

    #[test]
    fn subnet_stat_names_are_keas_for_every_name_and_id() {
        let names = super::PER_SUBNET.iter().chain(&["total-addresses"]);
        for name in names {
            for id in [0, 1, 42, u32::MAX] {
                assert_eq!(&*SubnetStat::new(id, name), format!("subnet[{id}].{name}"));
            }
        }
    }
}
