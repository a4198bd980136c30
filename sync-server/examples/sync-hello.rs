//! The seed's experiment and nothing else, on tiny_http with one thread: read this first, beside
//! async-server's `examples/async-hello.rs`.
//!
//! ```sh
//! cargo run -p sync-server --example sync-hello        # listens on 127.0.0.1:8000
//! curl localhost:8000/sleep & sleep 2; curl localhost:8000/nosleep   # waits for the sleep
//! ```
//!
//! tiny_http reads requests on threads of its own and queues them; this one thread takes them
//! off the queue one at a time. While it sleeps, nothing else is answered: the `/nosleep` waits
//! in the queue, and its `START` line comes only once the sleep is over.

use std::thread;
use std::time::Duration;

use tiny_http::{Response, Server};

fn main() {
    let server = Server::http("127.0.0.1:8000").expect("port 8000 is free");
    println!("hello (sync) listening on http://127.0.0.1:8000");
    for request in server.incoming_requests() {
        let (pid, tid) = (std::process::id(), thread_id());
        println!(
            "START PID {pid} TID {tid} {} {}",
            request.method(),
            request.url()
        );
        let (path, query) = request.url().split_once('?').unwrap_or((request.url(), ""));
        let body = match path {
            // The thread is parked for the whole sleep: the one handler thread is taken.
            "/sleep" => {
                thread::sleep(seconds(query));
                "sleep"
            }
            "/nosleep" => "no sleep",
            _ => {
                let _ = request.respond(Response::empty(404));
                continue;
            }
        };
        let _ = request.respond(Response::from_string(body));
    }
}

/// `seconds=S` from a query string; 5 s if absent or not a duration.
fn seconds(query: &str) -> Duration {
    let asked = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("seconds="));
    let seconds = asked.and_then(|text| text.parse().ok());
    seconds
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .unwrap_or(Duration::from_secs(5))
}

/// The operating system's id of this thread (Linux's `gettid`), as the seed printed it.
fn thread_id() -> i32 {
    // SAFETY: gettid takes nothing and cannot fail.
    unsafe { libc::gettid() }
}
