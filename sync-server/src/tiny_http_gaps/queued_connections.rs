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
//! **The cure: a nudge.** A connection to the server that hangs up at once. When a connection is
//! queued, no thread waits (a waiting thread would have taken it), so the pool starts one for the
//! nudge, which reads nothing and then, free, serves the queued connection. One nudge frees one.
//!
//! **Only when one is queued.** A queued connection is seen on its socket: its client sent bytes
//! [`LOOK_EVERY`] ago or more, and nobody has read any of them (a pool thread reads a
//! connection's bytes as they arrive). This module's thread looks only after a client has
//! connected: it sleeps in `epoll` on the listening socket, edge-triggered, which the kernel
//! wakes when a connection arrives and never otherwise (it accepts nothing; tiny_http does).
//! That wake-up can be lost: `epoll` reports the socket only if a connection is still waiting
//! when this thread collects its events, and tiny_http's accept thread, woken by the same arrival,
//! may have accepted every one of them by then. So a handler thread that sees a new connection's
//! first request also wakes it ([`Nudges::wake`], an `eventfd`): when connections arrive
//! together, the ones served say that the others may be queued. Woken, it looks every
//! [`LOOK_EVERY`] while there is anything to look for: connections still waiting to be accepted,
//! queued ones (a nudge each), or ones that have sent nothing yet and are
//! younger than `--header-timeout` (queued or read by a waiting thread: the socket cannot tell,
//! until their bytes come). Then it sleeps again. An idle server makes no connection and wakes
//! for nothing.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use super::sockets::{self, Reading};

/// How often the connections are looked at while there is something to look for. A connection
/// whose bytes have gone unread this long is queued: a waiting pool thread reads them within
/// microseconds.
pub const LOOK_EVERY: Duration = Duration::from_millis(20);

/// `epoll`'s tokens: a client connected to the listening socket, or a handler thread woke it.
const ARRIVAL: Token = Token(0);
const WAKE: Token = Token(1);

/// The most nudges in one waking, while connections are still found queued.
const MAX_NUDGES: usize = 1024;

/// The nudges sent to one server, when a connection is queued.
pub struct Nudges {
    server: SocketAddr,
    /// A copy of the listening socket, for `epoll` to watch.
    listener: TcpListener,
    /// Watches the listening socket and `waker`: taken by [`Nudges::run`].
    poll: Mutex<Option<Poll>>,
    /// Wakes the thread sleeping in `poll` from a handler thread.
    waker: Waker,
    /// How long a connection that has sent nothing is watched.
    header_timeout: Duration,
    /// The client addresses of the nudges sent in this waking, whose server ends may still be
    /// open: they are not connections being served.
    nudges: Mutex<Vec<SocketAddr>>,
}

impl Nudges {
    pub fn new(listener: TcpListener, header_timeout: Duration) -> io::Result<Nudges> {
        let poll = Poll::new()?;
        poll.registry().register(
            &mut SourceFd(&listener.as_raw_fd()),
            ARRIVAL,
            Interest::READABLE,
        )?;
        let waker = Waker::new(poll.registry(), WAKE)?;
        Ok(Nudges {
            server: listener.local_addr()?,
            listener,
            poll: Mutex::new(Some(poll)),
            waker,
            header_timeout,
            nudges: Mutex::new(Vec::new()),
        })
    }

    /// Whether `peer` is the client end of a nudge, not a client of the server.
    pub fn is_nudge(&self, peer: &SocketAddr) -> bool {
        self.nudges.lock().unwrap().contains(peer)
    }

    /// Has the thread in [`Nudges::run`] look, as for an arriving connection: called for each
    /// new connection's first request, which may have come with others that were queued.
    pub fn wake(&self) {
        // Failing only if the eventfd's count is full, when the thread is woken already.
        let _ = self.waker.wake();
    }

    /// Sleeps until a client connects (or [`Nudges::wake`]), then has `keep_accepting` see that
    /// a tiny_http server accepts it, and frees the connections the pool has queued; for as long
    /// as the process runs.
    pub fn run(&self, keep_accepting: impl Fn()) -> io::Result<()> {
        let Some(mut poll) = self.poll.lock().unwrap().take() else {
            return Err(io::Error::other("the nudges already run"));
        };
        let listening = self.listener.as_raw_fd();
        let mut events = Events::with_capacity(2);
        loop {
            match poll.poll(&mut events, None) {
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                outcome => outcome?,
            }
            self.free_queued(listening, &keep_accepting);
        }
    }

    /// Looks at the connections, nudging for each queued one, until none is queued or may be (it
    /// sent its bytes too recently to tell), none that has sent nothing is younger than the
    /// header timeout, and none waits to be accepted.
    fn free_queued(&self, listening: RawFd, keep_accepting: &impl Fn()) {
        let mut nudged = 0;
        loop {
            // A server accepts the new connection; or one failed to start, and is tried again.
            keep_accepting();
            // Counted before the pause: one accepted since has its descriptor by the look.
            let unaccepted = sockets::backlog(listening);
            thread::sleep(LOOK_EVERY);
            let readings = sockets::readings(self.server);
            let queued = readings.iter().filter(|r| is_queued(r)).count();
            let silent = |r: &Reading| r.received == 0 && r.quiet < self.header_timeout;
            // Bytes unread, but too recent to tell: looked at again, or it could be left queued.
            let recent = |r: &Reading| r.received == r.unread && r.quiet < LOOK_EVERY;
            let mut busy = unaccepted > 0 || readings.iter().any(|r| silent(r) || recent(r));
            if queued > 0 && nudged < MAX_NUDGES {
                nudged += queued;
                busy |= self.nudge(queued);
            }
            if !busy {
                self.nudges.lock().unwrap().clear();
                return;
            }
        }
    }

    /// Connects and hangs up `count` times; false if the server refused (stopping, or out of
    /// descriptors), which nudges nothing.
    fn nudge(&self, count: usize) -> bool {
        for _ in 0..count {
            let Ok(nudge) = TcpStream::connect_timeout(&self.server, self.header_timeout) else {
                return false;
            };
            // Known as a nudge before its server end can be counted.
            self.nudges.lock().unwrap().extend(nudge.local_addr().ok());
            drop(nudge);
        }
        true
    }
}

/// Whether a connection is queued in the pool: its client has sent bytes, at least
/// [`LOOK_EVERY`] ago, and nobody has read any of them.
fn is_queued(reading: &Reading) -> bool {
    reading.received > 0 && reading.unread == reading.received && reading.quiet >= LOOK_EVERY
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(received: u64, unread: u64, ms: u64) -> Reading {
        Reading {
            received,
            unread,
            quiet: Duration::from_millis(ms),
        }
    }

    #[test]
    fn a_connection_is_queued_when_none_of_its_bytes_was_read_for_a_while() {
        assert!(is_queued(&reading(80, 80, 20)));
        assert!(is_queued(&reading(80, 80, 5_000)));
        assert!(!is_queued(&reading(80, 80, 3)), "just arrived");
        assert!(!is_queued(&reading(80, 0, 900)), "read");
        assert!(
            !is_queued(&reading(160, 80, 900)),
            "read once, a pipelined request left"
        );
        assert!(!is_queued(&reading(0, 0, 900)), "sent nothing yet");
    }
}
