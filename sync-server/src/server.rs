//! Serving from handler threads: each takes the next request tiny_http has read, runs
//! [`crate::handle`] on it, and goes back for the next, until a shutdown has drained the queue.

use std::time::Duration;

use shared::{log, Identity, Router, Shutdown};
use tiny_http::Request;

use crate::connections::{Admission, Connections};
use crate::http::Responder;
use crate::slow::SlowReaders;
use crate::supervisor::Supervisor;

/// What every handler thread serves with.
pub struct Server {
    pub router: Router,
    pub shutdown: Shutdown,
    pub supervisor: Supervisor,
    pub slow: SlowReaders,
    pub connections: Connections,
}

/// How long the queue must stay empty, once shutting down, before a thread stops: requests on
/// connections accepted earlier may still be arriving.
const QUIET: Duration = Duration::from_millis(100);

/// How often an idle handler thread looks whether a shutdown has begun. The signal handler wakes
/// one waiting thread per handler thread, but a thread busy with a request may take a wake-up
/// meant for another: so none waits for one longer than this.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// Answers requests one at a time on this thread until a shutdown has drained the queue.
pub fn run(server: &'static Server) {
    let mut responder = Responder::new(&server.slow);
    loop {
        let request = match server.supervisor.try_recv() {
            Some(request) => request,
            None => {
                log::write_out(); // the queue is empty: the thread is about to wait
                match next_request(server) {
                    Some(request) => request,
                    None => break,
                }
            }
        };
        if server.slow.is_closed(request.remote_addr()) {
            drop(request.into_writer()); // its client takes in nothing: no answer, no wait
            continue;
        }
        match server.connections.admit(request.remote_addr()) {
            Admission::Serve => crate::handle(request, server, &mut responder),
            Admission::Refuse(peer) => {
                responder.refuse(request, Identity::current());
                server.connections.close(peer);
            }
            Admission::Drop => drop(request.into_writer()),
        }
    }
    log::write_out();
}

/// Waits for the next request; `None` means it is time to stop. While serving, the wait ends
/// only with a request. Once shutting down, it ends when the queue has stayed empty for a moment
/// or the grace period is spent.
fn next_request(server: &Server) -> Option<Request> {
    loop {
        match server.shutdown.grace_left() {
            None => match server.supervisor.recv_timeout(IDLE_CHECK) {
                Some(request) => return Some(request),
                None => continue,
            },
            Some(grace) if grace.is_zero() => return None,
            Some(grace) => return server.supervisor.recv_timeout(QUIET.min(grace)),
        }
    }
}
