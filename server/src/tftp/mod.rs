//! netbootd's TFTP server, fit to replace tftpd-hpa: one sans-IO engine (admission, read and
//! write sessions, timers) that production's tokio shell and bootsim's in-process segment
//! both drive, the packets, name resolution inside the root, and tftpd-hpa's files.

pub mod admit;
pub mod config;
pub mod defaults;
pub mod engine;
pub mod files;
pub mod lockstep;
pub mod netascii;
pub mod options;
pub mod packet;
pub mod path;
pub mod read;
pub mod remap;
pub mod shell;
pub mod transfer;
mod window;
pub mod write;
