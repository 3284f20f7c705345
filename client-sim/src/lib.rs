//! bootsim: emulates network-boot firmware on the wire.

pub mod capture;
pub mod chain;
pub mod content;
pub mod disk;
pub mod firmware;
pub mod identify;
pub mod junit;
pub mod net;
pub mod qemu;
pub mod recipe;
pub mod scenario;
pub mod storm;
pub mod transcript;
pub mod validate;
