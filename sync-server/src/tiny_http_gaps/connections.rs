//! `--max-connections`, kept from outside tiny_http, which accepts every connection on a thread
//! of its own and says neither how many it holds nor which one a request came on: only the
//! client's address.
//!
//! So a connection is noticed by its first request, from an address not seen before, and the
//! addresses seen are kept. Nor does tiny_http say when a connection closes: below the limit that
//! only means an address kept too long; at the limit, the process's own connected sockets are
//! counted ([`super::sockets`]), idle connections included, and the connections closed since are
//! forgotten. Counting reads every descriptor of the process, so it is done at most every
//! [`RECOUNT`]; in between, a new connection at the limit is refused.
//!
//! A connection past the limit has its first request answered `503` with `Retry-After`, as on
//! async-server, though only when a handler thread takes that request. Then its socket is shut
//! down by this module's thread, which closes every connection refused since it last looked in
//! one look at the descriptors, so that refusing many connections costs no more than counting
//! them. Requests tiny_http still hands over from a refused connection are dropped unanswered.

use std::collections::HashSet;
use std::mem;
use std::net::SocketAddr;
use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::sockets;

/// The least time between two looks at the process's descriptors, to count or to close.
const RECOUNT: Duration = Duration::from_millis(100);

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
    /// The clients of refused connections not yet seen gone.
    refused: HashSet<SocketAddr>,
    /// Refused connections answered and not yet closed.
    to_close: HashSet<SocketAddr>,
    /// When the process's sockets were last counted.
    counted: Option<Instant>,
}

/// What to do with a request.
pub enum Admission {
    Serve,
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
        if state.refused.contains(peer) {
            return Admission::Drop;
        }
        let due = state.counted.is_none_or(|at| at.elapsed() >= RECOUNT);
        if state.served.len() >= self.limit && due {
            let mut live = sockets::peers();
            live.retain(|peer| !ours(peer));
            state.refused.retain(|refused| live.contains(refused));
            let State {
                served, refused, ..
            } = &mut *state;
            *served = live.difference(refused).copied().collect();
            served.remove(peer); // this connection's own socket is among them
            state.counted = Some(Instant::now());
        }
        if state.served.len() >= self.limit {
            state.refused.insert(*peer);
            return Admission::Refuse(*peer);
        }
        state.served.insert(*peer);
        Admission::Serve
    }

    /// Has the refused connection of `peer`, now answered, closed.
    pub fn close(&self, peer: SocketAddr) {
        self.state.lock().unwrap().to_close.insert(peer);
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
            sockets::shut_down(&peers);
            thread::sleep(RECOUNT);
        }
    }
}
