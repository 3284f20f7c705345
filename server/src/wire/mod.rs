//! Bytes on the wire: DHCP messages with their option order, Ethernet/IPv4/UDP frames, and
//! pcap captures. Protocol engines work on parsed messages; only this module knows layouts.

pub mod dhcp;
pub mod frame;
pub mod pcap;
pub mod transport;
