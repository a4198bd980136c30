//! Answers for clients that are slow to take them in, sent from a thread of their own, so that
//! no client can stall a handler thread.
//!
//! tiny_http owns every connection: it reads requests off it on a thread of its own, queues them,
//! and hands a handler only a writer for each answer. A client that pipelines requests and never
//! reads them would stall a handler thread in that write for good, while tiny_http went on
//! reading and queueing its requests without limit. So, from outside tiny_http:
//!
//! - Every connection inherits a short send timeout from the listening socket
//!   ([`super::listen`]): a write that finds no room returns after [`WRITE_SLICE`].
//! - What a handler could not write goes to this module with its writer, and so does every later
//!   answer to that client (tiny_http would make them wait for it anyway). A thread of this
//!   module's sends them, in order, as the client takes them in.
//! - A client that leaves an answer untaken for `--header-timeout`, or lets [`MAX_WAITING`]
//!   answers pile up, is closed: its socket is shut down, which ends tiny_http's reading of it,
//!   and its requests still queued are dropped without an answer ([`SlowReaders::is_closed`]).
//!
//! tiny_http does not say which socket carries a request, only the client's address; the socket
//! is found among the process's descriptors by that address ([`super::sockets`]), on the rare
//! path that closes it.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::sockets;

/// The longest a write may wait for room in a connection's send buffer, on a handler thread or
/// on this module's: every connection inherits it as its send timeout.
pub const WRITE_SLICE: Duration = Duration::from_millis(20);

/// The most answers one client may leave waiting before it is closed.
pub const MAX_WAITING: usize = 256;

/// An answer's writer and the bytes of it not yet sent.
pub type Writer = Box<dyn Write + Send>;

pub struct SlowReaders {
    state: Mutex<State>,
    /// Rung when an answer joins the waiting ones.
    waiting: Condvar,
    /// Whether there is any slow or closed client: the request path looks here, without a lock.
    any: AtomicBool,
    /// How long a client may leave an answer untaken: `--header-timeout`.
    patience: Duration,
}

#[derive(Default)]
struct State {
    slow: HashMap<SocketAddr, Slow>,
    /// Clients closed, and when: long enough for tiny_http to have handed over every request it
    /// had read from them, then forgotten, so that a new connection from the same address is
    /// served.
    closed: HashMap<SocketAddr, Instant>,
}

struct Slow {
    answers: VecDeque<(Writer, Vec<u8>)>,
    /// Since when the first of `answers` has waited.
    since: Instant,
}

/// How a write ended.
enum Sent {
    All,
    /// The client took in none of the rest for [`WRITE_SLICE`].
    Stalled(Vec<u8>),
    /// The client has gone (or the connection failed): nothing more to do.
    Gone,
}

impl SlowReaders {
    pub fn new(patience: Duration) -> SlowReaders {
        SlowReaders {
            state: Mutex::default(),
            waiting: Condvar::new(),
            any: AtomicBool::new(false),
            patience,
        }
    }

    /// Whether requests from `peer` came on a connection closed for not taking in answers.
    pub fn is_closed(&self, peer: Option<&SocketAddr>) -> bool {
        if !self.any.load(Ordering::Acquire) {
            return false; // the usual case: no slow client, nothing locked
        }
        let mut state = self.state.lock().unwrap();
        let now = Instant::now();
        let patience = self.patience;
        state
            .closed
            .retain(|_, at| now.duration_since(*at) < patience * 2);
        self.any.store(
            !(state.slow.is_empty() && state.closed.is_empty()),
            Ordering::Release,
        );
        peer.is_some_and(|peer| state.closed.contains_key(peer))
    }

    /// Sends `answer` through `writer` to the client at `peer`: now, or, if that client is slow
    /// to take answers in, from this module's thread.
    pub fn send(&self, peer: Option<SocketAddr>, mut writer: Writer, answer: &[u8]) {
        if self.any.load(Ordering::Acquire) {
            if let Some(peer) = peer {
                let mut state = self.state.lock().unwrap();
                if state.closed.contains_key(&peer) {
                    return;
                }
                if let Some(slow) = state.slow.get_mut(&peer) {
                    slow.answers.push_back((writer, answer.to_vec()));
                    if slow.answers.len() > MAX_WAITING {
                        self.close(&mut state, peer, "let too many answers wait");
                    }
                    return;
                }
            }
        }
        let (Sent::Stalled(mut rest), Some(peer)) = (write(&mut writer, answer), peer) else {
            return;
        };
        let mut state = self.state.lock().unwrap();
        if let Entry::Vacant(vacant) = state.slow.entry(peer) {
            // Every earlier answer to this client is out (tiny_http let this one be written), so
            // this one heads the queue.
            vacant.insert(Slow {
                answers: VecDeque::from([(writer, rest)]),
                since: Instant::now(),
            });
            self.any.store(true, Ordering::Release);
            self.waiting.notify_one();
            return;
        }
        // With several handler threads, this answer can have been taken before the client was
        // found slow, and the queue's thread may be waiting for it (tiny_http keeps a client's
        // answers in order): it is finished here, or the client closed.
        drop(state);
        let started = Instant::now();
        while started.elapsed() < self.patience {
            match write(&mut writer, &rest) {
                Sent::Stalled(left) => rest = left,
                Sent::All | Sent::Gone => return,
            }
        }
        let mut state = self.state.lock().unwrap();
        self.close(&mut state, peer, "took in no answer for the header timeout");
    }

    /// Sends the waiting answers, slow client by slow client, for as long as the process runs.
    pub fn run(&self) {
        let mut state = self.state.lock().unwrap();
        loop {
            while state.slow.is_empty() {
                state = self.waiting.wait(state).unwrap();
            }
            let now = Instant::now();
            let peers: Vec<SocketAddr> = state.slow.keys().copied().collect();
            for peer in peers {
                let Some(slow) = state.slow.get_mut(&peer) else {
                    continue;
                };
                if now.duration_since(slow.since) > self.patience {
                    self.close(&mut state, peer, "took in no answer for the header timeout");
                    continue;
                }
                let Some((mut writer, bytes)) = slow.answers.pop_front() else {
                    state.slow.remove(&peer); // all sent: it is an ordinary client again
                    continue;
                };
                drop(state);
                let sent = write(&mut writer, &bytes);
                state = self.state.lock().unwrap();
                let Some(slow) = state.slow.get_mut(&peer) else {
                    continue; // closed meanwhile
                };
                match sent {
                    Sent::All => slow.since = Instant::now(),
                    Sent::Stalled(rest) => slow.answers.push_front((writer, rest)),
                    Sent::Gone => {
                        state.slow.remove(&peer);
                    }
                }
            }
        }
    }

    /// Closes the connection of the client at `peer` and drops its waiting answers.
    fn close(&self, state: &mut State, peer: SocketAddr, why: &str) {
        state.slow.remove(&peer);
        state.closed.insert(peer, Instant::now());
        self.any.store(true, Ordering::Release);
        eprintln!("sync-server: closing the connection of {peer}, which {why}");
        sockets::shut_down(&HashSet::from([peer]));
    }
}

/// Writes `bytes` and flushes, until done, or until the client has taken nothing in for
/// [`WRITE_SLICE`].
fn write(writer: &mut Writer, bytes: &[u8]) -> Sent {
    let mut rest = bytes;
    while !rest.is_empty() {
        match writer.write(rest) {
            Ok(0) => return Sent::Gone,
            Ok(written) => rest = &rest[written..],
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                return Sent::Stalled(rest.to_vec());
            }
            Err(_) => return Sent::Gone,
        }
    }
    match writer.flush() {
        Ok(()) => Sent::All,
        // What was not flushed stays in tiny_http's buffer; an empty rest flushes it again.
        Err(error) if error.kind() == io::ErrorKind::WouldBlock => Sent::Stalled(Vec::new()),
        Err(_) => Sent::Gone,
    }
}
