//! The listening sockets: one per worker, all on the same port.
//!
//! With more than one worker each gets a socket of its own with `SO_REUSEPORT`, and the kernel
//! spreads new connections over them. (Workers sharing one socket would race for each connection,
//! and the first awake could take a whole burst.)

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Socket, Type};

/// Connections the kernel may hold for a worker before it accepts them (Linux caps this at
/// `net.core.somaxconn`, 4096 by default). The usual 128 overflows under a burst.
const BACKLOG: i32 = 8192;

/// Binds `workers` listening sockets to `addr` (the first one's port if `addr` asks for port 0).
pub fn bind(addr: SocketAddr, workers: usize) -> io::Result<Vec<TcpListener>> {
    // A plain bind first: SO_REUSEPORT would let a second server share a port already in use,
    // where the user expects to be told it is taken.
    let probe = socket(addr, false)?;
    let addr = probe.local_addr()?;
    if workers == 1 {
        return Ok(vec![probe]);
    }
    drop(probe);
    (0..workers).map(|_| socket(addr, true)).collect()
}

fn socket(addr: SocketAddr, shared: bool) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if shared {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}
