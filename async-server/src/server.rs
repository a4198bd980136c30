//! Starting the workers, and serving one listening socket on a worker's runtime: the accept
//! loop, hyper on each connection, and the graceful end.

use std::convert::Infallible;
use std::thread;
use std::time::Duration;

use anyhow::Context;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use shared::os::log;
use shared::{Answer, AsyncWait, Identity, QueueDeadline, Router, Shutdown};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_io_timeout::TimeoutStream;

use crate::db::Database;
use crate::shutdown::{self, Stopped};
use crate::upstream::Upstream;
use crate::watchdog::{self, Loop, Watchdog};
use crate::{listen, Cli};

/// What every connection of every worker is served with.
pub struct App {
    pub router: Router<AsyncWait>,
    pub shutdown: Shutdown,
    /// How long a client may take to send a request head, and to take in an answer.
    pub header_timeout: Duration,
    /// One permit per connection being served, across all workers.
    pub connections: Semaphore,
    /// The most threads tokio's blocking pool may run at once, for each worker.
    pub blocking_threads: usize,
    /// What reports a runtime thread kept from its event loop (`None`: `--warn-blocked 0`).
    pub watchdog: Option<Watchdog>,
    /// How long `/offload` work may wait for a thread of the blocking pool and still be run.
    pub queue_deadline: QueueDeadline,
    /// Where `/query` gets a database connection.
    pub database: Database,
    /// What `/fetch` calls.
    pub upstream: Upstream,
}

/// The pause after a failed `accept` (say, out of file descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Binds the port (once per worker), starts the workers, says where it listens, and serves
/// until a shutdown has let the requests in progress finish.
pub fn run(args: Cli) -> anyhow::Result<()> {
    let limits = args.common.limits();
    let database = match &args.common.database {
        Some(url) => Database::new(url, args.db_pool as usize, args.common.db_wait)
            .context("cannot use --database")?,
        None => Database::none(),
    };
    // Every worker serves with it until the process ends.
    let app: &'static App = Box::leak(Box::new(App {
        router: Router::new(limits).with(args.common.backends()),
        database,
        upstream: Upstream::new(
            args.common.upstream.as_deref(),
            args.common.upstream_connections,
            args.common.header_timeout,
            limits.max_sleep,
        ),
        shutdown: Shutdown::new(limits.max_sleep),
        header_timeout: args.common.header_timeout,
        connections: Semaphore::new(args.common.max_connections as usize),
        blocking_threads: args.blocking_threads as usize,
        queue_deadline: QueueDeadline(args.common.queue_deadline()),
        watchdog: (args.warn_blocked > 0)
            .then(|| Watchdog::new(Duration::from_millis(args.warn_blocked))),
    }));
    if let Some(watchdog) = &app.watchdog {
        watchdog.start().context("cannot start the watchdog")?;
    }
    let addr = args.common.addr(args.port);
    let mut listeners = listen::bind(addr, args.workers)
        .with_context(|| format!("cannot listen on {addr}"))?
        .into_iter();
    let first = listeners.next().expect("at least one worker");
    let addr = first.local_addr()?;
    let (stop, stopped) = shutdown::channel();

    // Workers beyond the first each run a runtime on a thread of their own.
    let (finished, mut all_finished) = tokio::sync::mpsc::channel::<()>(1);
    for listener in listeners {
        let (stopped, finished) = (stopped.clone(), finished.clone());
        let runtime = crate::runtime(app.blocking_threads)?;
        thread::spawn(move || {
            runtime.block_on(serve_port(app, listener, stopped));
            log::flush();
            drop(finished);
        });
    }
    drop(finished);

    // The first worker is this thread, which also hears the signals.
    crate::runtime(app.blocking_threads)?.block_on(async {
        shutdown::on_signal(&app.shutdown, stop).context("cannot handle signals")?;
        println!("async-server listening on http://{addr}");
        serve_port(app, first, stopped).await;
        all_finished.recv().await;
        anyhow::Ok(())
    })?;
    log::flush();
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
