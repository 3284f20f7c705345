//! netbootd: a DHCPv4 + TFTP server that runs unmodified Kea `kea-dhcp4.conf` and
//! tftpd-hpa configurations. See DESIGN.md in the shared folder for the map.

pub mod control;
pub mod dhcp;
pub mod kea;
pub mod log;
pub mod tftp;
pub mod time;
pub mod wire;
