//! Graceful shutdown for the blocking server.
//!
//! On `SIGINT` or `SIGTERM` the listening socket is shut, so new connections are refused, and the
//! handler threads are woken if they are waiting. They then answer the requests tiny_http has
//! already received, for at most `--max-sleep`, and the server exits 0. A second signal exits at
//! once.

use std::io;
use std::process;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tiny_http::Request;

use crate::http::Http;

/// How long the queue must stay empty, once shutting down, before the server exits: requests on
/// connections it accepted earlier may still be arriving.
const QUIET: Duration = Duration::from_millis(100);

/// How often an idle handler thread looks whether a shutdown has begun.
const IDLE_CHECK: Duration = Duration::from_secs(1);

pub struct Shutdown {
    began: Arc<OnceLock<Instant>>,
    grace: Duration,
}

impl Shutdown {
    /// Installs the signal handler, which wakes up to `threads` waiting handler threads.
    pub fn on_signal(http: Arc<Http>, grace: Duration, threads: usize) -> io::Result<Self> {
        let began = Arc::new(OnceLock::new());
        let signalled = Arc::clone(&began);
        ctrlc::set_handler(move || {
            if signalled.set(Instant::now()).is_err() {
                eprintln!("sync-server: second signal: exiting now");
                process::exit(130);
            }
            http.stop(threads);
            eprintln!(
                "sync-server: shutting down: answering the requests already received \
                 (for at most {} s), then exiting",
                grace.as_secs_f64()
            );
        })
        .map_err(io::Error::other)?;
        Ok(Shutdown { began, grace })
    }

    /// While shutting down, how much of the grace period is left.
    pub fn grace_left(&self) -> Option<Duration> {
        let began = self.began.get()?;
        Some(self.grace.saturating_sub(began.elapsed()))
    }

    /// Waits for the next request; `None` means it is time to exit. While serving, the wait ends
    /// only with a request or a signal. Once shutting down, it ends when the queue has stayed
    /// empty for a moment or the grace period is spent.
    pub fn wait_for_request(&self, http: &Http) -> Option<Request> {
        loop {
            match self.grace_left() {
                // The signal handler wakes one waiting thread per handler thread, but a thread
                // busy with a request may take a wake-up meant for another: so none waits for
                // one longer than a second.
                None => match http.recv_timeout(IDLE_CHECK) {
                    Some(request) => return Some(request),
                    None => continue,
                },
                Some(grace) if grace.is_zero() => return None,
                Some(grace) => return http.recv_timeout(QUIET.min(grace)),
            }
        }
    }
}
