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
//! So whenever the accept thread of the newest tiny_http server ends, a new server takes over
//! the socket. The older ones are still read, for requests on connections they accepted, until
//! those connections must have timed out, or until the process holds no connection to the server
//! at all: on an idle server, an old one goes as soon as its successor starts, and its pool's
//! threads end.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
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

/// How often a waiting thread looks at the older servers' queues.
const OLDER_CHECK: Duration = Duration::from_millis(50);

/// The tiny_http servers that take turns on one listening socket, read as one queue.
pub struct Supervisor {
    listener: TcpListener,
    addr: SocketAddr,
    state: Mutex<State>,
    /// How long after its accept thread ended a server can still have live connections: then it
    /// is forgotten.
    retire_after: Duration,
    stopped: AtomicBool,
}

struct State {
    /// Servers on the socket, oldest first; only the newest may still be accepting.
    servers: Vec<Generation>,
    /// The same servers, as the request path reads them: taken without copying the list.
    snapshot: Arc<Vec<Arc<Server>>>,
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
    server: Arc<Server>,
    /// When its accept thread was seen to end, if it has.
    ended: Option<Instant>,
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
                snapshot: Arc::new(vec![Arc::clone(&first.server)]),
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
        let servers = self.servers();
        servers
            .iter()
            .find_map(|server| self.take(server, Server::try_recv))
    }

    /// Waits up to `wait` for a request.
    pub fn recv_timeout(&self, wait: Duration) -> Option<Request> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(request) = self.try_recv() {
                return Some(request);
            }
            let (servers, accepting) = self.keep_accepting();
            let newest = servers.last().expect("there is always a server");
            let left = deadline.saturating_duration_since(Instant::now());
            // While older servers may still hold connections, or none accepts, look often.
            let slice = if servers.len() > 1 || !accepting {
                left.min(OLDER_CHECK)
            } else {
                left
            };
            if let Some(request) = self.take(newest, |server| server.recv_timeout(slice)) {
                return Some(request);
            }
            if Instant::now() >= deadline {
                return None;
            }
        }
    }

    /// Stops accepting (new connections are refused) and wakes up to `threads` waiting threads.
    pub fn stop(&self, threads: usize) {
        self.stopped.store(true, Ordering::SeqCst);
        let _ = SockRef::from(&self.listener).shutdown(Shutdown::Both);
        if let Some(newest) = self.servers().last() {
            for _ in 0..threads {
                newest.unblock();
            }
        }
    }

    fn servers(&self) -> Arc<Vec<Arc<Server>>> {
        Arc::clone(&self.state.lock().unwrap().snapshot)
    }

    /// Runs `receive` on `server`; an error from it means its accept thread has ended.
    fn take(
        &self,
        server: &Arc<Server>,
        receive: impl FnOnce(&Server) -> io::Result<Option<Request>>,
    ) -> Option<Request> {
        match receive(server) {
            Ok(request) => request,
            Err(error) => {
                let mut state = self.state.lock().unwrap();
                if let Some(ended) = state
                    .servers
                    .iter_mut()
                    .find(|g| Arc::ptr_eq(&g.server, server))
                {
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
                        state.report_end(now, &error);
                    }
                }
                None
            }
        }
    }

    /// Starts a new server if the newest one's accept thread has ended (unless stopping), and
    /// forgets the servers whose connections must all have timed out. Returns the servers, and
    /// whether one is accepting.
    fn keep_accepting(&self) -> (Arc<Vec<Arc<Server>>>, bool) {
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
        if newest_ended && due && !self.stopped.load(Ordering::SeqCst) {
            match start_server(&self.listener) {
                Ok(generation) => {
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
            g.ended
                .is_none_or(|ended| !none_left && now - ended < retire_after)
        });
        changed |= state.servers.len() != before;
        let accepting = newest.ended.is_none();
        state.servers.push(newest);
        if changed {
            let servers = state
                .servers
                .iter()
                .map(|g| Arc::clone(&g.server))
                .collect();
            state.snapshot = Arc::new(servers);
        }
        (Arc::clone(&state.snapshot), accepting)
    }
}

fn start_server(listener: &TcpListener) -> io::Result<Generation> {
    let ours = listener.try_clone()?;
    let server = Server::from_listener(ours, None).map_err(io::Error::other)?;
    Ok(Generation {
        server: Arc::new(server),
        ended: None,
    })
}
