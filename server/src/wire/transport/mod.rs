//! Transports: how datagrams reach the engines. Kernel UDP sockets bound to one interface
//! each (Kea's `dhcp-socket-type: udp`) and AF_PACKET sockets carrying whole frames (`raw`,
//! Kea's default); the in-memory port is `dhcp::link`. The engines never see sockets.

pub mod raw;
pub mod udp;
