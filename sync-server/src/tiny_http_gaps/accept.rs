//! tiny_http on one listening socket, kept accepting: a supervisor of tiny_http servers.
//!
//! tiny_http's accept thread ends for good on its first accept error, and then the server takes
//! no new connection (nor says so, but for one error in its queue). Two things make it end here:
//! running out of file descriptors, and the receive timeout set on the listening socket on
//! purpose ([`super::listen`]), which every connection inherits: a client that stalls
//! mid-request is cut off after `--header-timeout`. But `accept` obeys the timeout too, so the
//! accept thread ends after each idle spell of that length.
//!
//! Out of descriptors at the wrong moment, the accept thread does not even report its end: it
//! panics (it unwraps a failed `try_clone` in `RefinedTcpStream::new`, which only the accept
//! thread calls). A panic hook notices that: tiny_http's threads are the only unnamed ones in this
//! process, and that panic's location names the file.
//!
//! So once the accept thread of the newest tiny_http server has ended, a new server takes over
//! the socket, as soon as a connection waits to be accepted: the thread that watches the socket
//! for arrivals ([`super::queued_connections`]) starts it, and so does a handler thread that finds
//! a connection waiting. Not before: an idle server then does nothing at all, where a new server
//! after every idle spell would start five threads, and, dropping its predecessor, make a
//! connection to itself (tiny_http's `Drop` connects to its own socket to wake an accept thread,
//! here long gone). That connection is still made once at each takeover, beside the client's.
//! The older servers are still read, for requests on connections they accepted, until those
//! connections must have timed out, or until the process holds no connection to the server at
//! all; then they go, and their pools' threads end.
//!
//! A handler thread waits for a request without a timer, on the newest server's queue: when a
//! new server takes over, or the server stops, the threads waiting there are woken (tiny_http's
//! `unblock`, once for each).

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use socket2::SockRef;
use tiny_http::{Request, Server};

use super::sockets;

/// The pause before trying again to start a server, when that failed (out of descriptors).
const RETRY: Duration = Duration::from_millis(100);

/// Set by the panic hook when a thread of tiny_http's panics.
static TINY_HTTP_PANICKED: AtomicBool = AtomicBool::new(false);

/// Set by the panic hook when the thread that panicked was tiny_http's accept thread.
static ACCEPT_THREAD_PANICKED: AtomicBool = AtomicBool::new(false);

/// The file of tiny_http's where only its accept thread runs, and panics out of descriptors.
const ACCEPT_THREAD_PANICS_IN: &str = "refined_tcp_stream.rs";

/// At most one line a second says the accept thread ended, or that none could start: out of
/// descriptors, that goes on ten times a second until descriptors are free.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// How often a waiting thread looks at the older servers' queues, and tries again to start a
/// server after a failure.
const OLDER_CHECK: Duration = Duration::from_millis(50);

/// The tiny_http servers that take turns on one listening socket, read as one queue.
pub struct Supervisor {
    listener: TcpListener,
    addr: SocketAddr,
    state: Mutex<State>,
    /// How long after its accept thread ended a server can still have live connections: then it
    /// is forgotten.
    retire_after: Duration,
    /// Set, under the state's lock, when the server stops.
    stopped: AtomicBool,
}

struct State {
    /// Servers on the socket, oldest first; only the newest may still be accepting.
    servers: Vec<Generation>,
    /// The same servers' queues, as the request path reads them: taken without copying the list.
    snapshot: Arc<Vec<Arc<Queue>>>,
    /// When to try again to start a server, after a failure (out of descriptors, say).
    retry_at: Option<Instant>,
    /// When an accept thread's end was last reported.
    end_reported_at: Option<Instant>,
    /// When a failure to start a server was last reported.
    failure_reported_at: Option<Instant>,
}

impl State {
    /// Says that an accept thread ended, unless that was said less than [`REPORT_EVERY`] ago.
    fn report_end(&mut self, now: Instant, why: &dyn std::fmt::Display) {
        if due(&mut self.end_reported_at, now) {
            eprintln!(
                "sync-server: tiny_http's accept thread has ended ({why}); another takes over"
            );
        }
    }

    /// Says that no server could be started, unless that was said less than [`REPORT_EVERY`] ago.
    fn report_failure(&mut self, now: Instant, error: &io::Error) {
        if due(&mut self.failure_reported_at, now) {
            eprintln!("sync-server: cannot accept for now ({error}); retrying every {RETRY:?}");
        }
    }
}

/// Whether a line last said at `said_at` may be said again `now`; if so, it is taken as said.
fn due(said_at: &mut Option<Instant>, now: Instant) -> bool {
    let due = said_at.is_none_or(|at| now - at >= REPORT_EVERY);
    if due {
        *said_at = Some(now);
    }
    due
}

struct Generation {
    queue: Arc<Queue>,
    /// When its accept thread was seen to end, if it has.
    ended: Option<Instant>,
}

/// A tiny_http server, read as a queue of requests, and the threads waiting on it.
pub struct Queue {
    server: Server,
    /// Threads waiting, or about to wait, for its requests without a timer: as many to wake when
    /// it is no longer the newest, or the server stops.
    waiters: AtomicUsize,
}

impl Queue {
    /// Wakes the threads waiting on it. A wake-up (tiny_http's `unblock`) stays in the queue
    /// until a thread takes it; any thread looking at the queue may take it, so whoever takes it
    /// and finds someone still waiting hands it on ([`Supervisor::try_recv`]).
    fn wake_waiters(&self) {
        for _ in 0..self.waiters.load(Ordering::SeqCst) {
            self.server.unblock();
        }
    }

    /// After a look at the queue found nothing: if its waiters have been woken (`woken`) and one
    /// still waits, the look may have taken its wake-up, and hands one on.
    fn hand_on(&self, woken: bool) {
        if woken && self.waiters.load(Ordering::SeqCst) > 0 {
            self.server.unblock();
        }
    }
}

impl Supervisor {
    /// Starts serving `listener`, whose connections time out after `read_timeout` without a
    /// byte ([`super::listen::bind`]); a request may keep its connection `longest_wait` more (the
    /// longest sleep).
    pub fn new(
        listener: TcpListener,
        read_timeout: Duration,
        longest_wait: Duration,
    ) -> io::Result<Supervisor> {
        let addr = listener.local_addr()?;
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |panic| {
            if std::thread::current().name().is_none() {
                let accepting = panic
                    .location()
                    .is_some_and(|at| at.file().ends_with(ACCEPT_THREAD_PANICS_IN));
                ACCEPT_THREAD_PANICKED.fetch_or(accepting, Ordering::SeqCst);
                TINY_HTTP_PANICKED.store(true, Ordering::SeqCst);
                if accepting {
                    // A known gap, reported in one line by `keep_accepting`, not a backtrace.
                    return;
                }
            }
            report(panic);
        }));
        let first = start_server(&listener)?;
        Ok(Supervisor {
            listener,
            addr,
            state: Mutex::new(State {
                snapshot: Arc::new(vec![Arc::clone(&first.queue)]),
                servers: vec![first],
                retry_at: None,
                end_reported_at: None,
                failure_reported_at: None,
            }),
            retire_after: read_timeout * 2 + longest_wait,
            stopped: AtomicBool::new(false),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A request received by any of the servers, if one is waiting.
    pub fn try_recv(&self) -> Option<Request> {
        let queues = self.queues();
        let stopped = self.stopped.load(Ordering::SeqCst);
        let newest = queues.last().expect("there is always a server");
        queues
            .iter()
            .find_map(|queue| match queue.server.try_recv() {
                Ok(Some(request)) => Some(request),
                Ok(None) => {
                    queue.hand_on(stopped || !Arc::ptr_eq(queue, newest));
                    None
                }
                Err(error) => {
                    self.ended(queue, &error);
                    None
                }
            })
    }

    /// Waits for a request: at most `wait`, or, with `None`, without a timer, until one comes or
    /// the wait is cut short (a new server took over the socket, or the server stops): `None`
    /// then, and at the end of `wait`.
    pub fn recv(&self, wait: Option<Duration>) -> Option<Request> {
        let deadline = wait.map(|wait| Instant::now() + wait);
        loop {
            if let Some(request) = self.try_recv() {
                return Some(request);
            }
            let (queues, look_again) = self.keep_accepting();
            let newest = queues.last().expect("there is always a server");
            let left = deadline.map(|at| at.saturating_duration_since(Instant::now()));
            // While older servers may still hold connections, or a start is to be tried again,
            // look often.
            let slice = if look_again {
                Some(left.map_or(OLDER_CHECK, |left| left.min(OLDER_CHECK)))
            } else {
                left
            };
            match self.wait_on(newest, slice) {
                None => return None, // a new server took over, or the server stops
                Some(Ok(Some(request))) => return Some(request),
                Some(Ok(None)) if slice.is_none() => return None, // woken, by either
                Some(Ok(None)) => {}                              // the slice is over
                Some(Err(error)) => self.ended(newest, &error),
            }
            if deadline.is_some_and(|at| Instant::now() >= at) {
                return None;
            }
        }
    }

    /// Waits on `newest`'s queue for at most `slice`; with `None`, without a timer, unless it is
    /// no longer the newest or the server stops (then `None` at once).
    fn wait_on(
        &self,
        newest: &Arc<Queue>,
        slice: Option<Duration>,
    ) -> Option<io::Result<Option<Request>>> {
        let Some(slice) = slice else {
            // Counted first, then checked under the lock that a takeover and a stop hold while
            // they read the count: so either this thread sees them, or they see it and wake it.
            newest.waiters.fetch_add(1, Ordering::SeqCst);
            let current = {
                let state = self.state.lock().unwrap();
                !self.stopped.load(Ordering::SeqCst)
                    && state
                        .snapshot
                        .last()
                        .is_some_and(|n| Arc::ptr_eq(n, newest))
            };
            // With no deadline, tiny_http's condition variable waits for good (`Duration::MAX`
            // overflows any deadline); a wake-up (`unblock`) ends the wait with `Ok(None)`.
            let received = current.then(|| newest.server.recv_timeout(Duration::MAX));
            newest.waiters.fetch_sub(1, Ordering::SeqCst);
            return received;
        };
        let received = newest.server.recv_timeout(slice);
        if let Ok(None) = received {
            // At a stop the waiters on the newest are woken, and this wait may have taken a
            // wake-up. (A newer server would be read from the next look on.)
            newest.hand_on(self.stopped.load(Ordering::SeqCst));
        }
        Some(received)
    }

    /// Stops accepting (new connections are refused) and wakes the threads waiting for requests.
    pub fn stop(&self) {
        let state = self.state.lock().unwrap();
        self.stopped.store(true, Ordering::SeqCst);
        let _ = SockRef::from(&self.listener).shutdown(Shutdown::Both);
        if let Some(newest) = state.snapshot.last() {
            newest.wake_waiters();
        }
    }

    fn queues(&self) -> Arc<Vec<Arc<Queue>>> {
        Arc::clone(&self.state.lock().unwrap().snapshot)
    }

    /// Notes that `queue`'s accept thread has ended: a receive from it failed with `error`.
    fn ended(&self, queue: &Arc<Queue>, error: &io::Error) {
        let mut state = self.state.lock().unwrap();
        let Some(ended) = state
            .servers
            .iter_mut()
            .find(|g| Arc::ptr_eq(&g.queue, queue))
        else {
            return;
        };
        // An idle spell past the listener's timeout ends it too, in silence.
        let idle = matches!(
            error.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        );
        let now = Instant::now();
        let first_seen = ended.ended.is_none();
        ended.ended.get_or_insert(now);
        // At shutdown the listener is shut down on purpose, and accept fails.
        let stopping = self.stopped.load(Ordering::SeqCst);
        if first_seen && !idle && !stopping {
            state.report_end(now, error);
        }
    }

    /// Starts a new server if the newest one's accept thread has ended and a connection waits to
    /// be accepted (unless stopping), and forgets the servers whose connections must all have
    /// timed out. Returns the servers, and whether a waiting thread must look again soon (older
    /// servers are left, or a start failed).
    pub fn keep_accepting(&self) -> (Arc<Vec<Arc<Queue>>>, bool) {
        let mut state = self.state.lock().unwrap();
        let now = Instant::now();
        let retire_after = self.retire_after;
        if TINY_HTTP_PANICKED.swap(false, Ordering::SeqCst) {
            // Perhaps only a connection's thread: then a new server is merely one too many.
            if let Some(newest) = state.servers.last_mut() {
                newest.ended.get_or_insert(now);
            }
            if ACCEPT_THREAD_PANICKED.swap(false, Ordering::SeqCst) {
                state.report_end(now, &"it panicked, out of file descriptors");
                // The next one would end the same way until descriptors are free: not at once.
                state.retry_at.get_or_insert(now + RETRY);
            }
        }
        let newest_ended = state.servers.last().is_some_and(|g| g.ended.is_some());
        let due = state.retry_at.is_none_or(|at| now >= at);
        let mut changed = false;
        if newest_ended
            && due
            && !self.stopped.load(Ordering::SeqCst)
            && sockets::backlog(self.listener.as_raw_fd()) > 0
        {
            match start_server(&self.listener) {
                Ok(generation) => {
                    let previous = state.servers.last().expect("there is always a server");
                    previous.queue.wake_waiters();
                    state.servers.push(generation);
                    state.retry_at = None;
                    changed = true;
                }
                Err(error) => {
                    // Out of descriptors, say: meanwhile connections wait in the listen backlog.
                    state.report_failure(now, &error);
                    state.retry_at = Some(now + RETRY);
                }
            }
        }
        // The newest stays whatever happens; an older one goes once its connections must be gone.
        let newest = state.servers.pop().expect("there is always a server");
        let before = state.servers.len();
        // With no connection to the server left at all, no older server has one: all can go.
        let none_left = before > 0 && sockets::none_accepted(self.addr);
        state.servers.retain(|g| {
            let kept = g
                .ended
                .is_none_or(|ended| !none_left && now - ended < retire_after);
            if !kept {
                g.queue.wake_waiters(); // none should be left; no one else looks at it from now
            }
            kept
        });
        changed |= state.servers.len() != before;
        let look_again = !state.servers.is_empty() || state.retry_at.is_some();
        state.servers.push(newest);
        if changed {
            let servers = state.servers.iter().map(|g| Arc::clone(&g.queue)).collect();
            state.snapshot = Arc::new(servers);
        }
        (Arc::clone(&state.snapshot), look_again)
    }
}

fn start_server(listener: &TcpListener) -> io::Result<Generation> {
    let ours = listener.try_clone()?;
    let server = Server::from_listener(ours, None).map_err(io::Error::other)?;
    Ok(Generation {
        queue: Arc::new(Queue {
            server,
            waiters: AtomicUsize::new(0),
        }),
        ended: None,
    })
}
