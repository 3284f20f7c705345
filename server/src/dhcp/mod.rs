//! The DHCPv4 side of netbootd: a sans-IO engine (classify, allocate, answer, address the
//! reply) and the lease store.

pub mod addressing;
pub mod engine;
pub mod journal;
pub mod lease;
pub mod link;
pub mod port;
pub mod service;
pub mod stats;
