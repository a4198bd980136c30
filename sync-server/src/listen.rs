//! The listening socket, whose read timeout every accepted connection inherits.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use socket2::SockRef;

/// Binds `addr`. Sockets accepted from it time out after `read_timeout` without a byte: that is
/// the only way to give tiny_http's connections a read timeout (its own API has none).
pub fn bind(addr: SocketAddr, read_timeout: Duration) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    SockRef::from(&listener).set_read_timeout(Some(read_timeout))?;
    Ok(listener)
}
