//! Network-boot firmware, each model a sans-IO state machine on a virtual clock.

pub mod ipxe;
pub mod refind;
pub mod uefi_pxe;
