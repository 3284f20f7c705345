//! Where the firmware models meet servers: an in-process segment with netbootd on it.

pub mod embedded;
pub mod lan;
