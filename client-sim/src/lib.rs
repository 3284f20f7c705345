//! bootsim: emulates network-boot firmware on the wire.

pub mod disk;
pub mod firmware;
pub mod identify;
pub mod net;
