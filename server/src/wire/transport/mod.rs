//! Transports: how datagrams reach the engines. Kernel UDP sockets bound to one interface
//! each (Kea's `dhcp-socket-type: udp`); the engines never see sockets.

pub mod udp;
