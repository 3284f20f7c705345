//! Transports (to be written): kernel UDP sockets, AF_PACKET, the in-memory hub.
