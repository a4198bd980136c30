//! How long a request has waited in tiny_http's queue, and whether its client is still there.
//!
//! tiny_http stamps no arrival time on a request and does not say whether its client has gone.
//! The request's socket knows both: the kernel counts how long ago its client last sent data
//! (`tcpi_last_data_recv`, which for a request head that was read at once is how long it has
//! waited since), and a client that has closed its end leaves the socket in `CLOSE_WAIT`. A
//! request says only its client's address, so the socket is found among the process's
//! descriptors ([`super::sockets`]). Listing them all costs a system call per descriptor, so the
//! numbers are kept, and listed again only when a client is not among them: one listing finds
//! every connection that arrived since the last.
//!
//! The kernel's count is in milliseconds, and moves in its clock ticks (4 ms here): a deadline
//! is kept to within a tick. A client that closes only its sending half (`shutdown(SHUT_WR)`)
//! after its request looks, here, like one that hung up: HTTP clients rarely do, and only a
//! request that had to wait is looked at.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::Mutex;

use shared::Waited;

use super::sockets;

/// The process's connections, by their clients' addresses, as last listed.
#[derive(Default)]
pub struct Waiting {
    sockets: Mutex<HashMap<SocketAddr, RawFd>>,
}

impl Waiting {
    /// How long the request from `peer` has waited since its bytes arrived, and whether its
    /// client has hung up; `None` if its connection is not found (gone, or not a TCP client).
    pub fn of(&self, peer: SocketAddr) -> Option<Waited> {
        let mut sockets = self.sockets.lock().unwrap();
        let cached = sockets.get(&peer).copied();
        let heard = match cached.and_then(|fd| sockets::heard_from(fd, peer)) {
            Some(heard) => heard,
            None => {
                *sockets = sockets::by_peer();
                let fd = sockets.get(&peer).copied()?;
                sockets::heard_from(fd, peer)?
            }
        };
        Some(Waited {
            waited: heard.quiet,
            client_gone: heard.peer_closed,
        })
    }
}
