//! Starting the workers, and serving one listening socket on a worker's runtime: the accept
//! loop, hyper on each connection, and the graceful end. Each worker's runtime, its listener
//! and the shutdown are handed in by `main`.

use std::convert::Infallible;
use std::future::Future;
use std::thread;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use shared::os::log;
use shared::{Answer, Identity};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio_io_timeout::TimeoutStream;

use crate::app::App;
use crate::shutdown::{self, Stopped};
use crate::watchdog::{self, Loop, Watchdog};

/// The pause after a failed `accept` (say, out of file descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Starts a worker on each runtime of `others`, each on a thread of its own with a listener of
/// `listeners` (the first is this thread's), says where it listens, and serves until `shutdown`
/// completes and the requests in progress have finished, for at most the grace period.
pub async fn run(
    listeners: Vec<std::net::TcpListener>,
    others: Vec<Runtime>,
    app: &'static App,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let mut listeners = listeners.into_iter();
    let first = listeners.next().expect("at least one worker");
    let addr = first.local_addr()?;
    let (stop, stopped) = shutdown::channel();
    let (finished, mut all_finished) = tokio::sync::mpsc::channel::<()>(1);
    for (listener, runtime) in listeners.zip(others) {
        let (stopped, finished) = (stopped.clone(), finished.clone());
        thread::spawn(move || {
            runtime.block_on(serve_port(app, listener, stopped));
            log::flush();
            drop(finished);
        });
    }
    drop(finished);
    println!("async-server listening on http://{addr}");
    let stopping = async {
        shutdown.await;
        stop.stop();
    };
    let serving = async {
        serve_port(app, first, stopped).await;
        all_finished.recv().await; // every other worker done
    };
    tokio::join!(stopping, serving);
    Ok(())
}

/// Accepts and serves connections until stopped, then lets the requests in progress finish,
/// for at most the grace period.
async fn serve_port(app: &'static App, listener: std::net::TcpListener, mut stopped: Stopped) {
    let listener = TcpListener::from_std(listener).expect("a non-blocking listener");
    let watched = app.watchdog.as_ref().map(Watchdog::watch);
    if let Some(watched) = watched {
        tokio::spawn(watched.heartbeat());
    }
    let connections = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => serve_connection(app, stream, &connections, watched),
                Err(error) => {
                    eprintln!("async-server: accept failed: {error}; retrying shortly");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            () = stopped.wait() => break,
        }
    }

    drop(listener); // from here on, new connections are refused
    app.shutdown.announce("async-server");
    // A request may have begun the longest sleep just before the signal: a moment more lets its
    // answer go out.
    let grace = app.shutdown.grace() + Duration::from_secs(1);
    tokio::select! {
        () = connections.shutdown() => {}
        () = tokio::time::sleep(grace) => eprintln!("async-server: grace period over; exiting"),
    }
    if let Some(watched) = watched {
        watched.end();
    }
    app.database.close_this_workers();
    app.upstream.close_this_workers();
}

fn serve_connection(
    app: &'static App,
    stream: TcpStream,
    connections: &GracefulShutdown,
    watched: Option<&'static Loop>,
) {
    // Past --max-connections a connection is still answered, with a 503, and then closed.
    let permit = app.connections.try_acquire().ok();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()) // without a timer, the header read timeout does nothing
        .header_read_timeout(app.header_timeout)
        .max_buf_size(shared::MAX_HEAD) // a longer request head gets 431
        .keep_alive(permit.is_some());
    let overloaded = permit.is_none();
    let service = service_fn(move |request| {
        let arrival = watchdog::arrived(watched, || crate::http::head(&request));
        arrival.polled(async move {
            let response = if overloaded {
                crate::http::response(&request, Answer::overloaded(), Identity::current())
            } else {
                crate::handle(&request, app).await
            };
            Ok::<_, Infallible>(response)
        })
    });
    // A client that takes in no answer for the header timeout is closed: hyper would wait for it
    // for good (it stops reading while an answer is unsent, so the wait costs no memory).
    let mut stream = TimeoutStream::new(stream);
    stream.set_write_timeout(Some(app.header_timeout));
    let io = TokioIo::new(Box::pin(stream));
    let connection = connections.watch(http.serve_connection(io, service));
    tokio::spawn(async move {
        // A client that sends garbage or hangs up has been answered or dropped by hyper already.
        let _ = connection.await;
        drop(permit);
    });
}
