//! Bytes on the wire: DHCP messages with their option order, Ethernet/IPv4/UDP frames, ARP,
//! hardware addresses, pcap captures, and the sockets that carry them (`packet_socket`,
//! `transport`). Protocol engines work on parsed messages; only this module knows layouts.

pub mod arp;
pub mod dhcp;
pub mod frame;
pub mod mac;
pub mod packet_socket;
pub mod payload;
pub mod pcap;
pub mod transport;

pub use mac::MacAddr;
pub use payload::Payload;
