//! The listening socket, whose timeouts every accepted connection inherits.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use socket2::SockRef;

use crate::slow::WRITE_SLICE;

/// Binds `addr`. A read from a socket accepted from it fails after `read_timeout` without a
/// byte, and a write after [`WRITE_SLICE`] without room to send: that is the only way to give
/// tiny_http's connections timeouts (its own API has none).
pub fn bind(addr: SocketAddr, read_timeout: Duration) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    let socket = SockRef::from(&listener);
    socket.set_read_timeout(Some(read_timeout))?;
    socket.set_write_timeout(Some(WRITE_SLICE))?;
    Ok(listener)
}
