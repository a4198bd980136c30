//! The process's connected sockets, found among its descriptors. tiny_http does not say which
//! socket a request came on, only the client's address: this is how sync-server finds the
//! connection of a client it must close, and counts the connections it holds.

use std::collections::HashSet;
use std::fs;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{BorrowedFd, RawFd};

use socket2::SockRef;

/// Shuts down the process's sockets connected to any of `peers` (tiny_http holds two per
/// connection, one to read and one to write), in one look at the descriptors.
pub fn shut_down(peers: &HashSet<SocketAddr>) {
    each_connected(|socket, to| {
        if peers.contains(&to) {
            let _ = socket.shutdown(Shutdown::Both);
        }
    });
}

/// The peers of the process's connected sockets: one per connection.
pub fn peers() -> HashSet<SocketAddr> {
    let mut peers = HashSet::new();
    each_connected(|_, peer| {
        peers.insert(peer);
    });
    peers
}

/// Calls `each` with every connected socket of the process and its peer's address.
fn each_connected(mut each: impl FnMut(SockRef<'_>, SocketAddr)) {
    let Ok(entries) = fs::read_dir("/proc/self/fd") else {
        return;
    };
    let descriptors =
        entries.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<RawFd>().ok());
    for fd in descriptors {
        // SAFETY: the descriptor was open a moment ago and is only borrowed for this call. If it
        // has been closed and reused since, it is another descriptor of this process, looked at
        // the same way: a socket that is not connected, or something else, has no peer.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = SockRef::from(&fd);
        if let Some(peer) = socket.peer_addr().ok().and_then(|addr| addr.as_socket()) {
            each(socket, peer);
        }
    }
}
