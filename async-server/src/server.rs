//! Serving one listening socket on this thread's runtime: the accept loop, hyper on each
//! connection, and the graceful end.

use std::convert::Infallible;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use shared::{log, Answer, Identity, Router, Shutdown};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tokio_io_timeout::TimeoutStream;

use crate::shutdown::Stopped;
use crate::watchdog::{self, Loop, Watchdog};

/// What every connection of every worker is served with.
pub struct Server {
    pub router: Router,
    pub shutdown: Shutdown,
    /// How long a client may take to send a request head, and to take in an answer.
    pub header_timeout: Duration,
    /// One permit per connection being served, across all workers.
    pub connections: Semaphore,
    /// The most threads tokio's blocking pool may run at once, for each worker.
    pub blocking_threads: usize,
    /// What reports a runtime thread kept from its event loop (`None`: `--warn-blocked 0`).
    pub watchdog: Option<Watchdog>,
}

/// The pause after a failed `accept` (say, out of file descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A worker's runtime: one thread, which writes out the log whenever it is about to wait, and
/// a blocking pool of at most `--blocking-threads`.
pub fn runtime(server: &Server) -> std::io::Result<Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(server.blocking_threads)
        .on_thread_park(log::write_out)
        .build()
}

/// Accepts and serves connections until stopped, then lets the requests in progress finish,
/// for at most the grace period.
pub async fn run(server: &'static Server, listener: std::net::TcpListener, mut stopped: Stopped) {
    let listener = TcpListener::from_std(listener).expect("a non-blocking listener");
    let watched = server.watchdog.as_ref().map(Watchdog::watch);
    if let Some(watched) = watched {
        tokio::spawn(watched.heartbeat());
    }
    let connections = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => serve(server, stream, &connections, watched),
                Err(error) => {
                    eprintln!("async-server: accept failed: {error}; retrying shortly");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            () = stopped.wait() => break,
        }
    }

    drop(listener); // from here on, new connections are refused
    server.shutdown.announce("async-server");
    // A request may have begun the longest sleep just before the signal: a moment more lets its
    // answer go out.
    let grace = server.shutdown.grace() + Duration::from_secs(1);
    tokio::select! {
        () = connections.shutdown() => {}
        () = tokio::time::sleep(grace) => eprintln!("async-server: grace period over; exiting"),
    }
    if let Some(watched) = watched {
        watched.end();
    }
}

fn serve(
    server: &'static Server,
    stream: TcpStream,
    connections: &GracefulShutdown,
    watched: Option<&'static Loop>,
) {
    // Past --max-connections a connection is still answered, with a 503, and then closed.
    let permit = server.connections.try_acquire().ok();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()) // without a timer, the header read timeout does nothing
        .header_read_timeout(server.header_timeout)
        .max_buf_size(shared::MAX_HEAD) // a longer request head gets 431
        .keep_alive(permit.is_some());
    let overloaded = permit.is_none();
    let service = service_fn(move |request| {
        let arrival = watchdog::arrived(watched, || crate::http::head(&request));
        arrival.polled(async move {
            let response = if overloaded {
                crate::http::response(&request, Answer::overloaded(), Identity::current())
            } else {
                crate::handle(&request, server).await
            };
            Ok::<_, Infallible>(response)
        })
    });
    // A client that takes in no answer for the header timeout is closed: hyper would wait for it
    // for good (it stops reading while an answer is unsent, so the wait costs no memory).
    let mut stream = TimeoutStream::new(stream);
    stream.set_write_timeout(Some(server.header_timeout));
    let io = TokioIo::new(Box::pin(stream));
    let connection = connections.watch(http.serve_connection(io, service));
    tokio::spawn(async move {
        // A client that sends garbage or hangs up has been answered or dropped by hyper already.
        let _ = connection.await;
        drop(permit);
    });
}
