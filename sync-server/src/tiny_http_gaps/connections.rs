//! `--max-connections`, kept from outside tiny_http, which accepts every connection on a thread
//! of its own and says neither how many it holds nor which one a request came on: only the
//! client's address.
//!
//! So a connection is noticed by its first request, from an address not seen before, and the
//! addresses seen are kept. But they are not a count of the connections held: tiny_http reads
//! each connection on a thread of its own, and can hand over a later connection's first request
//! before an earlier one's. So near the limit (within [`SLACK`] of it), a new address has the
//! process's own connected sockets counted ([`super::sockets`]), every connection accepted so far
//! included. When they do not all fit, the places left go to those not yet seen in the order
//! they asked: by how long each has been quiet since it sent data (or connected), which the
//! kernel counts in its clock ticks (4 ms here). So a connection that asks a tick or more after
//! the limit is full is the one refused, whichever first request tiny_http hands over first;
//! among connections that asked within the same tick, the first handed over goes first. Past the limit, counting is done at most every [`RECOUNT`] (it reads every
//! descriptor of the process); in between, a new connection is refused.
//!
//! A connection past the limit has its first request answered `503` with `Retry-After`, as on
//! async-server, though only when a handler thread takes that request. Then its socket is shut
//! down by this module's thread, which closes every connection refused since it last looked in
//! one look at the descriptors, so that refusing many connections costs no more than counting
//! them. Requests tiny_http still hands over from a refused connection are dropped unanswered.

use std::collections::{HashMap, HashSet};
use std::mem;
use std::net::SocketAddr;
use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::sockets;

/// The least time between two looks at the process's descriptors, to count or to close, once
/// past the limit.
const RECOUNT: Duration = Duration::from_millis(100);

/// How near the limit the connections seen must be for a new one to be counted against the
/// process's sockets: exact as long as tiny_http hands over no first request more than this many
/// connections ahead of an earlier one's.
const SLACK: usize = 256;

pub struct Connections {
    limit: usize,
    state: Mutex<State>,
    /// Rung when a refused connection is to be closed.
    refusing: Condvar,
}

#[derive(Default)]
struct State {
    /// The clients of the connections being served, as far as known.
    served: HashSet<SocketAddr>,
    /// The clients of refused connections not yet seen gone, and when each was refused.
    refused: HashMap<SocketAddr, Instant>,
    /// Refused connections answered and not yet closed, and when each was refused.
    to_close: HashMap<SocketAddr, Instant>,
    /// When the process's sockets were last counted.
    counted: Option<Instant>,
}

/// What to do with a request.
pub enum Admission {
    Serve,
    /// Serve it: the first request of a connection not seen before.
    ServeFirst,
    /// Answer `503`, then [`Connections::close`] the connection of this client: it is past the
    /// limit.
    Refuse(SocketAddr),
    /// Drop it unanswered: its connection was refused.
    Drop,
}

impl Connections {
    pub fn new(limit: usize) -> Connections {
        Connections {
            limit,
            state: Mutex::default(),
            refusing: Condvar::new(),
        }
    }

    /// What to do with a request from `peer`. A connected socket whose peer is `ours` (the
    /// server's own nudges) is not counted as a connection.
    pub fn admit(
        &self,
        peer: Option<&SocketAddr>,
        ours: impl Fn(&SocketAddr) -> bool,
    ) -> Admission {
        let Some(peer) = peer else {
            return Admission::Serve;
        };
        let mut state = self.state.lock().unwrap();
        if state.served.contains(peer) {
            return Admission::Serve;
        }
        if let Some(&at) = state.refused.get(peer) {
            // The refused connection, or a new one on the same client port (reused once the
            // refused one was closed): the new one has sent its request since the refusal.
            let quiet = sockets::peers().get(peer).copied().unwrap_or(0);
            if sockets::quiet_since(quiet, at) {
                return Admission::Drop;
            }
            state.refused.remove(peer);
        }
        let seen = state.served.len();
        let due = state.counted.is_none_or(|at| at.elapsed() >= RECOUNT);
        if seen + SLACK >= self.limit && (seen < self.limit || due) {
            let mut live = sockets::peers();
            live.retain(|peer, _| !ours(peer));
            state
                .refused
                .retain(|refused, _| live.contains_key(refused));
            state.served.retain(|served| live.contains_key(served));
            state.counted = Some(Instant::now());
            let mine = live.get(peer).copied().unwrap_or(0);
            // Those not yet seen that asked before this one come first.
            let ahead = live.iter().filter(|(other, &quiet)| {
                quiet > mine
                    && !state.served.contains(*other)
                    && !state.refused.contains_key(*other)
            });
            if state.served.len() + ahead.count() >= self.limit {
                state.refused.insert(*peer, Instant::now());
                return Admission::Refuse(*peer);
            }
        } else if seen >= self.limit {
            state.refused.insert(*peer, Instant::now());
            return Admission::Refuse(*peer);
        }
        state.served.insert(*peer);
        Admission::ServeFirst
    }

    /// Has the refused connection of `peer`, now answered, closed.
    pub fn close(&self, peer: SocketAddr) {
        let mut state = self.state.lock().unwrap();
        let refused = state
            .refused
            .get(&peer)
            .copied()
            .unwrap_or_else(Instant::now);
        state.to_close.insert(peer, refused);
        drop(state);
        self.refusing.notify_one();
    }

    /// Closes the refused connections, at most every [`RECOUNT`], for as long as the process
    /// runs.
    pub fn run(&self) {
        loop {
            let mut state = self.state.lock().unwrap();
            while state.to_close.is_empty() {
                state = self.refusing.wait(state).unwrap();
            }
            let peers = mem::take(&mut state.to_close);
            drop(state);
            sockets::shut_down_refused(&peers);
            thread::sleep(RECOUNT);
        }
    }
}
