//! The listening socket, whose timeouts every accepted connection inherits.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

use super::slow_readers::WRITE_SLICE;

/// Connections the kernel may hold before tiny_http accepts them (Linux caps this at
/// `net.core.somaxconn`, 4096 by default). The usual 128 overflows when thousands connect at once.
const BACKLOG: i32 = 8192;

/// Binds `addr`. A read from a socket accepted from it fails after `read_timeout` without a
/// byte, and a write after [`WRITE_SLICE`] without room to send: that is the only way to give
/// tiny_http's connections timeouts (its own API has none).
pub fn bind(addr: SocketAddr, read_timeout: Duration) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    socket.set_read_timeout(Some(read_timeout))?;
    socket.set_write_timeout(Some(WRITE_SLICE))?;
    Ok(socket.into())
}
