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
//! Looking costs two system calls, which on a busy server is a tenth of a minimal request's
//! time. So a request on a connection answered less than [`RECENT`] ago is not looked at: its
//! client sent it after taking in that answer, so it has waited less than that (a client that
//! pipelines, sending before it reads, is the exception). Under `wrk -c64` on one handler thread
//! every request is such a one, and the looks cost nothing.
//!
//! The kernel's count moves in its clock ticks (4 ms here): a deadline is kept to within a tick.
//! A client that closes only its sending half (`shutdown(SHUT_WR)`) after its request looks, here,
//! like one that hung up: HTTP clients rarely do, and only a request that had to wait is looked
//! at.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use shared::Waited;

use super::sockets;

/// How recently a connection must have been answered for its next request not to be looked at:
/// one of the kernel's clock ticks, the finest a deadline is kept to anyway.
pub const RECENT: Duration = Duration::from_millis(4);

/// The process's connections, by their clients' addresses, as last listed.
#[derive(Default)]
pub struct Waiting {
    sockets: Mutex<HashMap<SocketAddr, Connection>>,
}

struct Connection {
    fd: RawFd,
    /// When its last answer was sent, if since it was listed.
    answered: Option<Instant>,
}

impl Waiting {
    /// How long the request from `peer` has waited since its bytes arrived, and whether its
    /// client has hung up; `None` if there is nothing to say: its connection was answered within
    /// [`RECENT`], or is not found (gone, or not a TCP client).
    pub fn of(&self, peer: SocketAddr) -> Option<Waited> {
        let mut sockets = self.sockets.lock().unwrap();
        let known = sockets.get(&peer);
        if known
            .and_then(|c| c.answered)
            .is_some_and(|at| at.elapsed() < RECENT)
        {
            return None;
        }
        let heard = match known.and_then(|c| sockets::heard_from(c.fd, peer)) {
            Some(heard) => heard,
            None => {
                *sockets = sockets::by_peer()
                    .into_iter()
                    .map(|(peer, fd)| (peer, Connection { fd, answered: None }))
                    .collect();
                let fd = sockets.get(&peer)?.fd;
                sockets::heard_from(fd, peer)?
            }
        };
        Some(Waited {
            waited: heard.quiet,
            client_gone: heard.peer_closed,
        })
    }

    /// Notes that `peer`'s connection has just been answered, if it is a listed one. (Only
    /// listed ones: the list is renewed, and pruned, as new connections are looked up.)
    pub fn answered(&self, peer: SocketAddr) {
        if let Some(connection) = self.sockets.lock().unwrap().get_mut(&peer) {
            connection.answered = Some(Instant::now());
        }
    }
}
