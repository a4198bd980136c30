//! What tiny_http lacks, filled in from outside it. Skip this folder on a first reading: the
//! lesson is in `main.rs` and `server.rs`, and nothing here is about threads against tasks.
//!
//! tiny_http owns every connection: it accepts on a thread of its own, reads each connection on
//! a thread from its pool, and hands the handler threads a queue of requests, each with a writer
//! for its answer. Everything a server must also do about connections (time them out, limit
//! them, close one whose client misbehaves) has to be done around that. Each gap, where it is
//! filled, the test that holds it, and its section of `docs/tiny_http.md`:
//!
//! | gap in tiny_http 0.12 | filled by | test (`sync-server/tests/robustness.rs`) | `docs/tiny_http.md` |
//! | --- | --- | --- | --- |
//! | the accept thread ends for good on its first error, sometimes by panicking | [`accept`] | `it_keeps_accepting_after_idle_spells_longer_than_the_header_timeout`, `running_out_of_file_descriptors_is_survived` | 2 |
//! | no read timeout and no limit on a request head | [`listen`]: timeouts every connection inherits | `slowloris_stalls_nobody_and_is_cut_off_at_the_header_timeout` | 3 |
//! | no write timeout: a client that never reads holds a handler thread in its write for good | [`slow_readers`] | `a_client_that_never_reads_stalls_nobody_and_is_closed` | 3 |
//! | no connection count and no way to close one | [`connections`], [`sockets`] | `connections_past_the_limit_are_refused_and_closed`, `the_connection_past_the_limit_is_refused_while_answers_are_unread` | 6 |
//! | a new connection can be queued behind busy pool threads until one is free | [`queued_connections`] | `a_fresh_server_answers_a_keep_alive_burst_without_a_stall` (`testkit::contract`, both servers) | 5 |
//! | no arrival time on a request, and no way to tell its client has gone | [`waiting`] | `a_queued_request_past_the_deadline_is_shed_unrun`, `a_queued_request_whose_client_hung_up_is_not_run` (`testkit::contract`, both servers) | 7 |
//! | an HTTP/2 request line deadlocks its connection's thread | not filled: documented | `http2_request_lines_leave_no_thread_or_descriptor_behind` (ignored) | 1 |
//!
//! The serving loop reaches all of it through one type, [`TinyHttp`]: it asks it for the next
//! request to answer and hands it each answer's bytes.

mod accept;
mod connections;
mod listen;
mod queued_connections;
mod slow_readers;
mod sockets;
mod waiting;

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use shared::{Identity, Waited};
use tiny_http::Request;

use self::accept::Supervisor;
use self::connections::{Admission, Connections};
use self::queued_connections::Nudges;
use self::slow_readers::{SlowReaders, Writer};
use self::waiting::Waiting;
use crate::http::Responder;

/// tiny_http on one listening socket, with its gaps filled: the one way the serving loop reads
/// requests and sends answers.
pub struct TinyHttp {
    supervisor: Supervisor,
    slow: SlowReaders,
    connections: Connections,
    nudges: Nudges,
    waiting: Waiting,
}

impl TinyHttp {
    /// Binds `addr` and starts accepting. A connection is closed after `header_timeout` without
    /// a byte (or without taking in an answer); a request may hold it `longest_wait` more; at most
    /// `max_connections` are served at once.
    pub fn start(
        addr: SocketAddr,
        header_timeout: Duration,
        longest_wait: Duration,
        max_connections: usize,
    ) -> anyhow::Result<TinyHttp> {
        let listener = listen::bind(addr, header_timeout)
            .with_context(|| format!("cannot listen on {addr}"))?;
        let watched = listener
            .try_clone()
            .context("cannot watch the listening socket")?;
        let supervisor = Supervisor::new(listener, header_timeout, longest_wait)
            .context("cannot start tiny_http")?;
        Ok(TinyHttp {
            nudges: Nudges::new(watched, header_timeout)
                .context("cannot watch the listening socket")?,
            supervisor,
            slow: SlowReaders::new(header_timeout),
            connections: Connections::new(max_connections),
            waiting: Waiting::default(),
        })
    }

    /// Starts the three threads that send the answers slow clients leave waiting, close the
    /// connections refused past the limit, and, woken by each arriving connection, see that a
    /// tiny_http server accepts it and give the connections tiny_http's pool queued a thread.
    pub fn start_helpers(&'static self) -> anyhow::Result<()> {
        thread::Builder::new()
            .name("slow-readers".to_owned())
            .spawn(|| self.slow.run())
            .context("cannot start a thread")?;
        thread::Builder::new()
            .name("refused-connections".to_owned())
            .spawn(|| self.connections.run())
            .context("cannot start a thread")?;
        thread::Builder::new()
            .name("pool-nudges".to_owned())
            .spawn(|| {
                let keep_accepting = || drop(self.supervisor.keep_accepting());
                if let Err(error) = self.nudges.run(keep_accepting) {
                    eprintln!("sync-server: cannot watch for queued connections: {error}");
                }
            })
            .context("cannot start a thread")?;
        Ok(())
    }

    /// The address it listens on (the real port, also when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.supervisor.addr()
    }

    /// The next request to answer, if one is already in tiny_http's queue. A request of a
    /// connection past the limit is answered `503` here (with `responder`), and one from a
    /// connection already closed is dropped, so neither reaches a handler.
    pub fn try_next(&self, responder: &mut Responder) -> Option<Request> {
        loop {
            let request = self.supervisor.try_recv()?;
            if let Some(request) = self.admit(request, responder) {
                return Some(request);
            }
        }
    }

    /// The next request to answer, waiting up to `wait` for one; with `None`, without a timer,
    /// until one comes or the wait is cut short (the server is stopping, say).
    pub fn next(&self, wait: Option<Duration>, responder: &mut Responder) -> Option<Request> {
        let deadline = wait.map(|wait| Instant::now() + wait);
        loop {
            let left = deadline.map(|at| at.saturating_duration_since(Instant::now()));
            let request = self.supervisor.recv(left)?;
            if let Some(request) = self.admit(request, responder) {
                return Some(request);
            }
        }
    }

    /// Sends an answer's bytes through its writer: at once, or, for a client slow to take them
    /// in, from the slow readers' thread.
    pub fn send(&self, peer: Option<SocketAddr>, writer: Writer, answer: &[u8]) {
        self.slow.send(peer, writer, answer);
        if let Some(peer) = peer {
            self.waiting.answered(peer);
        }
    }

    /// How long `request`, taken from the queue, waited there since its head arrived, and
    /// whether its client has hung up meanwhile (`None`: nothing to say, [`waiting`]).
    pub fn waited(&self, request: &Request) -> Option<Waited> {
        self.waiting.of(*request.remote_addr()?)
    }

    /// Lets `request` go without an answer (its client has gone): tiny_http would otherwise
    /// answer it `500` as it is dropped.
    pub fn drop_unanswered(&self, request: Request) {
        drop(request.into_writer());
    }

    /// Stops accepting (new connections are refused) and wakes the threads waiting for requests.
    pub fn stop(&self) {
        self.supervisor.stop();
    }

    /// The request, if a handler is to answer it.
    fn admit(&self, request: Request, responder: &mut Responder) -> Option<Request> {
        let peer = request.remote_addr();
        if self.slow.is_closed(peer) {
            drop(request.into_writer()); // its client takes in nothing: no answer, no wait
            return None;
        }
        let ours = |peer: &SocketAddr| *peer == self.addr() || self.nudges.is_nudge(peer);
        match self.connections.admit(peer, ours) {
            Admission::Serve => Some(request),
            Admission::ServeFirst => {
                // Others that arrived with it may be queued in tiny_http's pool.
                self.nudges.wake();
                Some(request)
            }
            Admission::Refuse(peer) => {
                responder.refuse(request, Identity::current());
                self.connections.close(peer);
                None
            }
            Admission::Drop => {
                drop(request.into_writer());
                None
            }
        }
    }
}
