//! Test helper for lease_memfile.rs's `kill_9_at_random_moments_loses_no_acknowledged_lease`
//! (not installed, not packaged): opens the lease file named by its argument and appends
//! leases forever, printing `acked <address>` once each is written, until it is killed.

#[path = "../lease_support/mod.rs"]
mod lease_support;

use std::path::PathBuf;

use lease_support::{lease, Store};

fn main() {
    let Some(path) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: lease-crash-writer LEASE-FILE");
        std::process::exit(2);
    };
    let (mut store, _) = Store::open(&path).expect("the lease file opens");
    let start = store.len() as u32;
    for n in start + 1.. {
        store.upsert(lease(n)).expect("the lease is written");
        println!("acked {}", lease(n).address);
    }
}
