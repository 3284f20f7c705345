//! netbootd's TFTP server, fit to replace tftpd-hpa: packets, the sans-IO read session, name
//! resolution inside the root, and the tokio shell.

pub mod admit;
pub mod defaults;
pub mod host;
pub mod options;
pub mod packet;
pub mod path;
pub mod receive;
pub mod remap;
pub mod server;
pub mod session;
