//! Transports: how datagrams reach the engines. Kernel UDP sockets bound to one interface
//! each (Kea's `dhcp-socket-type: udp`) and AF_PACKET sockets carrying whole frames (`raw`,
//! Kea's default); the in-memory port is `dhcp::link`. The engines never see sockets.

pub mod raw;
pub mod udp;

/// How long a serving thread's receive waits before it looks at its stop signal again.
pub const STOP_CHECK: std::time::Duration = std::time::Duration::from_millis(100);

/// Makes `socket` block on receive for at most [`STOP_CHECK`]: a DHCP port is served by a
/// thread of its own that sleeps in recvmmsg, so a query costs one system call to take
/// rather than an epoll_wait, a wake-up of the runtime and then the read (see
/// `dhcp::service`).
pub fn block_for_serving(socket: &impl std::os::fd::AsFd) -> std::io::Result<()> {
    let socket = socket2::SockRef::from(socket);
    socket.set_nonblocking(false)?;
    socket.set_read_timeout(Some(STOP_CHECK))
}
