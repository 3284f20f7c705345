//! iPXE as Debian's x86_64 EFI build (ipxe.efi) and BIOS build (undionly.kpxe) behave on the
//! wire and on the console: its DHCP, its TFTP client, its settings and its script
//! language. Facts and sources: firmware.md section B.

pub mod commands;
pub mod dhcp;
mod interpreter;
pub mod keyboard;
pub mod machine;
pub mod outcome;
pub mod packets;
pub mod script;
pub mod settings;
pub mod tftp;

pub use machine::Ipxe;
pub use outcome::{Image, IpxeEnd};
