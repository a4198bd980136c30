//! `--max-connections`, kept from outside tiny_http, which accepts every connection on a thread
//! of its own and says neither how many it holds nor which one a request came on: only the
//! client's address.
//!
//! So a connection is noticed by its first request, from an address not seen before, and the
//! addresses seen are kept. Nor does tiny_http say when a connection closes: below the limit that
//! only means an address kept too long; at the limit, the process's own connected sockets are
//! counted ([`crate::sockets`]), idle connections included, and the addresses of connections
//! closed since are forgotten. Counting reads every descriptor of the process, so it is done at
//! most every [`RECOUNT`]; in between, a new connection at the limit is refused.
//!
//! A connection past the limit has its first request answered `503` with `Retry-After` and is
//! closed, as on async-server, though only when a handler thread takes that request.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The least time between two counts of the process's sockets.
const RECOUNT: Duration = Duration::from_millis(100);

pub struct Connections {
    limit: usize,
    state: Mutex<State>,
}

struct State {
    /// The clients of the connections being served, as far as known.
    peers: HashSet<SocketAddr>,
    /// When the process's sockets were last counted.
    counted: Option<Instant>,
}

impl Connections {
    pub fn new(limit: usize) -> Connections {
        Connections {
            limit,
            state: Mutex::new(State {
                peers: HashSet::new(),
                counted: None,
            }),
        }
    }

    /// Whether the connection of a request from `peer` may be served: not if it is a new one
    /// past the limit.
    pub fn admit(&self, peer: Option<&SocketAddr>) -> bool {
        let Some(peer) = peer else {
            return true;
        };
        let mut state = self.state.lock().unwrap();
        if state.peers.contains(peer) {
            return true;
        }
        let due = state.counted.is_none_or(|at| at.elapsed() >= RECOUNT);
        if state.peers.len() >= self.limit && due {
            state.peers = crate::sockets::peers();
            state.peers.remove(peer); // this connection's own socket is among them
            state.counted = Some(Instant::now());
        }
        if state.peers.len() >= self.limit {
            return false;
        }
        state.peers.insert(*peer);
        true
    }
}
