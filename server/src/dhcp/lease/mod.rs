//! Leases and their store: Kea's memfile, the CSV file kea-dhcp4 and kea-lfc read and write
//! (src/lib/dhcpsrv/csv_lease_file4.cc, memfile_lease_mgr.cc), so an operator can switch
//! between Kea and netbootd on the same lease file.

mod csv;
mod memfile;
mod table;

pub use csv::{decimal, hex_colons, CsvError, Header, LeaseRow};
pub use memfile::{Cleanup, Durability, LoadReport, Memfile, MemfileError};
pub use table::{LeaseTable, SubnetCounts};

use std::net::Ipv4Addr;

/// Kea's Lease::STATE_* values as written in the `state` column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseState {
    Default,
    Declined,
    ExpiredReclaimed,
    Other(u32),
}

impl LeaseState {
    pub fn from_code(code: u32) -> Self {
        match code {
            0 => LeaseState::Default,
            1 => LeaseState::Declined,
            2 => LeaseState::ExpiredReclaimed,
            n => LeaseState::Other(n),
        }
    }

    pub fn code(self) -> u32 {
        match self {
            LeaseState::Default => 0,
            LeaseState::Declined => 1,
            LeaseState::ExpiredReclaimed => 2,
            LeaseState::Other(n) => n,
        }
    }
}

/// A DHCPv4 lease (Kea's Lease4): who holds which address, since when, for how long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub address: Ipv4Addr,
    pub hwaddr: Vec<u8>,
    pub client_id: Option<Vec<u8>>,
    pub valid_lifetime: u32,
    /// Client last transmission time, seconds since the epoch.
    pub cltt: u64,
    pub subnet_id: u32,
    pub fqdn_fwd: bool,
    pub fqdn_rev: bool,
    pub hostname: String,
    pub state: LeaseState,
    /// JSON text of Kea's user context, kept verbatim.
    pub user_context: Option<String>,
    /// Kea 3.0's `pool_id` column (0 when absent).
    pub pool_id: u32,
}

impl Lease {
    pub fn expire(&self) -> u64 {
        self.cltt + u64::from(self.valid_lifetime)
    }

    pub fn is_expired(&self, now: u64) -> bool {
        self.expire() <= now
    }
}

/// One change the engine made to its leases, for the shell to record before it answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseChange {
    /// The lease for this address is now this one.
    Upsert(Lease),
    /// The lease is gone (as it was when deleted).
    Delete(Lease),
}

impl LeaseChange {
    /// The lease file row: Kea records a deletion as the lease with valid_lifetime 0
    /// (Memfile_LeaseMgr::deleteLeaseInternal writes it so, LeaseFileLoader drops it).
    pub fn row(&self) -> std::borrow::Cow<'_, Lease> {
        match self {
            LeaseChange::Upsert(lease) => std::borrow::Cow::Borrowed(lease),
            LeaseChange::Delete(lease) => std::borrow::Cow::Owned(Lease {
                valid_lifetime: 0,
                ..lease.clone()
            }),
        }
    }

    pub fn lease(&self) -> &Lease {
        match self {
            LeaseChange::Upsert(lease) | LeaseChange::Delete(lease) => lease,
        }
    }
}
