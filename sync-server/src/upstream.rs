//! The upstream, for `/fetch`: another HTTP service, called with a blocking client (`ureq`).
//!
//! A call parks its thread in a socket read until the upstream answers, as `/query` parks it
//! until the database does. So a handler thread makes its calls one after another, and their
//! waits add up; to wait on several at once, a sync view needs a thread per call
//! ([`Upstream::fetch_on_threads`]), which is what async-server does with one task.
//!
//! At most `--upstream-connections` calls are in flight at once, each holding a [`Permit`]
//! until its answer has been read whole and its connection is back in ureq's pool; a connection
//! is opened only when the pool has none idle, so open connections never outnumber permits.

use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use shared::{Calls, FetchFailure};
use ureq::Agent;

/// The upstream's address and the client that calls it, or none (no `--upstream`, or closed at
/// shutdown).
pub struct Upstream {
    agent: Mutex<Option<Agent>>,
    base: String,
    connections: Permits,
    /// How much longer than its `seconds` a call may take: `--header-timeout`.
    slack: Duration,
    /// How long a call may wait for a connection: `--max-sleep`.
    connection_wait: Duration,
}

impl Upstream {
    /// A client for `base` (`http://HOST:PORT`; with none, `/fetch` is answered `503` before it
    /// reaches here) with at most `connections` open at once; a
    /// call may take its `seconds` plus `slack`, after waiting at most `connection_wait` for a
    /// connection.
    pub fn new(
        base: Option<&str>,
        connections: u32,
        slack: Duration,
        connection_wait: Duration,
    ) -> Upstream {
        let size = connections as usize;
        let agent = base.map(|_| {
            Agent::config_builder()
                // An error status is the upstream's answer, and a redirect is not ours to follow.
                .http_status_as_error(false)
                .max_redirects(0)
                .max_idle_connections(size)
                .max_idle_connections_per_host(size)
                .build()
                .new_agent()
        });
        Upstream {
            agent: Mutex::new(agent),
            base: base.unwrap_or_default().to_owned(),
            connections: Permits::new(connections),
            slack,
            connection_wait,
        }
    }

    /// Makes the calls one after another on this thread: how long they took together, or the
    /// first failure (the calls after it are not made).
    pub fn fetch(&self, calls: Calls) -> Result<Duration, FetchFailure> {
        let (started, url) = (Instant::now(), calls.url(&self.base));
        for _ in 0..calls.count {
            self.call(&url, calls.seconds)?;
        }
        Ok(started.elapsed())
    }

    /// Makes the calls all at once, one scoped thread each, and joins them: how long they took
    /// together, or the first failure among them.
    pub fn fetch_on_threads(&self, calls: Calls) -> Result<Duration, FetchFailure> {
        let (started, url) = (Instant::now(), calls.url(&self.base));
        thread::scope(|scope| {
            let threads: Vec<_> = (0..calls.count)
                .map(|_| {
                    // Named, as every thread of ours is: tiny_http's are told apart by having none.
                    thread::Builder::new()
                        .name("fetch".to_owned())
                        .stack_size(crate::server::HANDLER_STACK)
                        .spawn_scoped(scope, || self.call(&url, calls.seconds))
                })
                .collect();
            let mut outcome = Ok(());
            for thread in threads {
                let called = match thread {
                    Ok(thread) => thread.join().unwrap_or_else(|_| {
                        Err(FetchFailure::Broken(
                            "the call's thread panicked".to_owned(),
                        ))
                    }),
                    // Out of threads: this call is made here, after the others started.
                    Err(_) => self.call(&url, calls.seconds),
                };
                outcome = outcome.and(called);
            }
            outcome
        })?;
        Ok(started.elapsed())
    }

    /// One call of `url`, the upstream's `/sleep?seconds=S`, its answer read whole.
    fn call(&self, url: &str, seconds: Duration) -> Result<(), FetchFailure> {
        // An agent is a handle to the shared pool: cloning it opens nothing.
        let Some(agent) = self.agent.lock().unwrap().clone() else {
            return Err(FetchFailure::Unreachable(
                "no upstream configured".to_owned(),
            ));
        };
        let _permit = self
            .connections
            .take(self.connection_wait)
            .ok_or(FetchFailure::NoConnection(self.connection_wait))?;
        let bound = seconds + self.slack;
        let mut answer = agent
            .get(url)
            .config()
            .timeout_global(Some(bound))
            .build()
            .call()
            .map_err(|error| failure(error, bound))?;
        // Read to the end, so that the connection goes back to the pool before the permit does.
        answer
            .body_mut()
            .with_config()
            .limit(Calls::MAX_ANSWER as u64)
            .read_to_vec()
            .map_err(|error| failure(error, bound))?;
        FetchFailure::unless_success(answer.status().as_u16())
    }

    /// Closes the idle connections to the upstream: at shutdown, once every request is answered.
    pub fn close(&self) {
        drop(self.agent.lock().unwrap().take());
    }
}

/// What a failed call means for its answer (`bound`: how long it was allowed).
fn failure(error: ureq::Error, bound: Duration) -> FetchFailure {
    use std::io::ErrorKind::{ConnectionRefused, HostUnreachable, NetworkUnreachable};
    match error {
        ureq::Error::Timeout(_) => FetchFailure::TooSlow(bound),
        ureq::Error::Io(io)
            if matches!(
                io.kind(),
                ConnectionRefused | HostUnreachable | NetworkUnreachable
            ) =>
        {
            FetchFailure::Unreachable(io.to_string())
        }
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
            FetchFailure::Unreachable(error.to_string())
        }
        // Cut off, not HTTP, too large: the answer is not one.
        other => FetchFailure::Broken(other.to_string()),
    }
}

/// A counting semaphore: at most `n` holders at once, each waiting a bounded time for its turn.
struct Permits {
    free: Mutex<u32>,
    returned: Condvar,
}

/// A turn taken from [`Permits`], given back when dropped.
struct Permit<'a>(&'a Permits);

impl Permits {
    fn new(n: u32) -> Permits {
        Permits {
            free: Mutex::new(n),
            returned: Condvar::new(),
        }
    }

    /// A permit, waiting at most `wait` for one to be given back.
    fn take(&self, wait: Duration) -> Option<Permit<'_>> {
        let free = self.free.lock().unwrap();
        let (mut free, _) = self
            .returned
            .wait_timeout_while(free, wait, |free| *free == 0)
            .unwrap();
        if *free == 0 {
            return None;
        }
        *free -= 1;
        Some(Permit(self))
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap() += 1;
        self.0.returned.notify_one();
    }
}
