//! The lease store as the DHCP shell drives it, and numbered leases to fill it with: shared
//! by lease_memfile.rs and its helper binary `lease-crash-writer` (each uses part of it).
#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::path::Path;

use netbootd::dhcp::lease::{
    Durability, Lease, LeaseChange, LeaseState, LeaseTable, LoadReport, Memfile, MemfileError,
};

/// The lease file with the table it was loaded into, changed as the DHCP shell changes them:
/// the row written first, the table after.
pub struct Store {
    file: Memfile,
    table: LeaseTable,
}

impl Store {
    pub fn open(path: &Path) -> Result<(Store, LoadReport), MemfileError> {
        let (file, table, report) = Memfile::open(path, Durability::Write)?;
        Ok((Store { file, table }, report))
    }

    pub fn upsert(&mut self, lease: Lease) -> Result<(), MemfileError> {
        let change = LeaseChange::Upsert(lease);
        self.file.persist(std::slice::from_ref(&change))?;
        self.table.apply(&change);
        Ok(())
    }

    pub fn delete(&mut self, address: Ipv4Addr) -> Result<(), MemfileError> {
        let Some(lease) = self.table.get(address).cloned() else {
            return Ok(());
        };
        let change = LeaseChange::Delete(lease);
        self.file.persist(std::slice::from_ref(&change))?;
        self.table.apply(&change);
        Ok(())
    }

    pub fn compact(&mut self) -> Result<(), MemfileError> {
        self.file.compact()
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn get(&self, address: Ipv4Addr) -> Option<&Lease> {
        self.table.get(address)
    }
}

/// Lease number `n`: 10.0.0.n, with a client-id on even numbers and an escaped hostname
/// on every third.
pub fn lease(n: u32) -> Lease {
    Lease {
        address: Ipv4Addr::from(0x0a00_0000 + n),
        hwaddr: vec![0x52, 0x54, 0, 0, (n >> 8) as u8, n as u8],
        client_id: (n % 2 == 0).then(|| vec![1, 0x52, 0x54, 0, 0, (n >> 8) as u8, n as u8]),
        valid_lifetime: 3600,
        cltt: 1_700_000_000 + u64::from(n),
        subnet_id: 1,
        fqdn_fwd: false,
        fqdn_rev: false,
        hostname: if n % 3 == 0 {
            format!("node{n},rack")
        } else {
            String::new()
        },
        state: LeaseState::Default,
        user_context: None,
        pool_id: 0,
    }
}
