//! Connections that tiny_http's thread pool queued behind busy threads, handed a thread.
//!
//! tiny_http reads each connection on a thread of its pool, and starts a new thread for a new
//! connection only when no thread is waiting. When several connections arrive at once, a thread
//! that has been woken for one still counts as waiting until it runs, so the others are queued
//! for it; it takes one, and the rest stay queued until a pool thread is free again. With
//! keep-alive connections (ApacheBench's `-k`), no thread is free again until a connection has
//! been idle for `--header-timeout`: a fresh sync-server then leaves a queued connection's
//! requests unanswered for that long (`docs/tiny_http.md`, section 5).
//!
//! The pool starts a thread whenever a connection arrives and no thread is waiting, and that
//! thread, once done with its own connection, takes the next queued one. So every
//! [`NUDGE_EVERY`] this module connects to the server and hangs up at once, [`NUDGES`] times in
//! a row: when a connection is queued, no thread is waiting (a waiting thread would have taken
//! it), so the pool starts one for the nudge, which reads nothing, and then serves the queued
//! connection. When nothing is queued, a waiting thread takes the nudge and waits again. A nudge
//! sends no request, so it reaches no handler and no log; on an idle server the nudges cost a
//! few microseconds of CPU each.
//!
//! A burst can leave dozens queued (a hundred stalled connections at once, say), and each nudge
//! frees one, oldest first. So a round that made the pool start threads (the process has more
//! than before it) is followed at once by another, until one starts none: the queue is drained
//! within one tick, however deep, up to [`MAX_ROUNDS`] rounds.

use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

/// How long a connection tiny_http queued behind busy threads waits at most for one (while no
/// more than [`NUDGES`] are queued).
pub const NUDGE_EVERY: Duration = Duration::from_millis(100);

/// How many nudges are sent in a row: each can free one queued connection.
pub const NUDGES: usize = 4;

/// The most rounds in one tick, while each finds queued connections.
pub const MAX_ROUNDS: usize = 64;

/// How long the pool is given to start threads for a round before they are counted.
const SETTLE: Duration = Duration::from_millis(2);

/// The nudges sent to one server.
pub struct Nudges {
    server: SocketAddr,
    /// The client addresses of the last tick's nudges, whose server ends may still be open:
    /// they are not connections being served.
    last_round: Mutex<Vec<SocketAddr>>,
}

impl Nudges {
    pub fn new(server: SocketAddr) -> Nudges {
        Nudges {
            server,
            last_round: Mutex::new(Vec::with_capacity(NUDGES)),
        }
    }

    /// Whether `peer` is the client end of a nudge, not a client of the server.
    pub fn is_nudge(&self, peer: &SocketAddr) -> bool {
        self.last_round.lock().unwrap().contains(peer)
    }

    /// Nudges the pool every [`NUDGE_EVERY`], for as long as the process runs.
    pub fn run(&self) {
        loop {
            thread::sleep(NUDGE_EVERY);
            let mut sent = Vec::with_capacity(NUDGES);
            for _ in 0..MAX_ROUNDS {
                let before = threads();
                if !self.round(&mut sent) {
                    break;
                }
                thread::sleep(SETTLE);
                // No thread started: nothing was queued behind busy ones (any more).
                if threads() <= before {
                    break;
                }
            }
        }
    }

    /// Connects and hangs up [`NUDGES`] times, adding each client address to `sent`; false if
    /// the server refused one (stopping, or out of descriptors), which nudges nothing.
    fn round(&self, sent: &mut Vec<SocketAddr>) -> bool {
        for _ in 0..NUDGES {
            let Ok(nudge) = TcpStream::connect_timeout(&self.server, NUDGE_EVERY) else {
                return false;
            };
            sent.extend(nudge.local_addr().ok());
            // Known as a nudge before its server end can be counted.
            self.last_round.lock().unwrap().clone_from(sent);
            drop(nudge);
        }
        true
    }
}

/// The threads of this process now, from `/proc/self/status`.
fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"));
    line.and_then(|count| count.trim().parse().ok())
        .unwrap_or(0)
}
