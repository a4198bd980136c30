//! The seed's experiment and nothing else, on hyper and a tokio `current_thread` runtime: read
//! this first, beside sync-server's `examples/sync-hello.rs`.
//!
//! ```sh
//! cargo run -p async-server --example async-hello       # listens on 127.0.0.1:8001
//! curl localhost:8001/sleep & sleep 2; curl localhost:8001/nosleep   # answered at once
//! ```
//!
//! One thread runs everything: the accept loop, every connection and every request, each a task.
//! `/sleep` awaits a timer. In tokio's words: the sleep's future is `Pending`, so the task
//! yields; the runtime polls other tasks on the same thread, and when the timer fires its waker
//! wakes the task, and the runtime polls it again, after the `.await`. So the `/nosleep` is
//! answered at once, and its `START` line names the same thread as the sleep's.

use std::convert::Infallible;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:8001").await?;
    println!("hello (async) listening on http://127.0.0.1:8001");
    loop {
        let (stream, _) = listener.accept().await?;
        // A task per connection, on this same thread.
        tokio::spawn(async move {
            let connection =
                http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(handle));
            let _ = connection.await;
        });
    }
}

async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (pid, tid) = (std::process::id(), thread_id());
    println!(
        "START PID {pid} TID {tid} {} {}",
        request.method(),
        request.uri()
    );
    let body = match request.uri().path() {
        // The task is set aside until the timer fires; the thread runs other tasks meanwhile.
        "/sleep" => {
            tokio::time::sleep(seconds(request.uri().query().unwrap_or(""))).await;
            "sleep"
        }
        "/nosleep" => "no sleep",
        _ => {
            let mut missing = Response::new(Full::default());
            *missing.status_mut() = StatusCode::NOT_FOUND;
            return Ok(missing);
        }
    };
    Ok(Response::new(Full::new(Bytes::from_static(
        body.as_bytes(),
    ))))
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
