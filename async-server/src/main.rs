//! `async-server`: the async half of the experiment, `uvicorn --workers 1`.
//!
//! One thread runs everything: a tokio `current_thread` runtime accepts connections, reads
//! requests and runs the handlers. `/sleep` awaits `tokio::time::sleep`, which hands the thread
//! back to the runtime until the timer fires, so other requests run in the meantime. `/block`
//! shows the mistake (a blocking sleep in an async handler) and `/offload` the fix (the blocking
//! sleep on tokio's blocking pool, awaited). `--workers N` runs N such runtimes, each on a thread
//! of its own with a socket of its own on the same port, like `uvicorn --workers N`.

mod listen;
mod log;

use std::borrow::Cow;
use std::convert::Infallible;
use std::thread;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use shared::cli::Program;
use shared::{Answer, Field, Flavor, Identity, Router, Value, Wait};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::{mpsc, watch};

const PROGRAM: Program = Program {
    name: "async-server",
    version: env!("CARGO_PKG_VERSION"),
    about: "Async HTTP server on one thread: hyper on a tokio current_thread runtime, like \
            `uvicorn --workers 1`.",
    default_port: 8001,
    parallelism: (
        "workers",
        "How many single-threaded runtimes serve the port, each on a thread of its own, like \
         `uvicorn --workers N` (whose workers are processes)",
    ),
};

/// A client gets this long to send its request head before the connection is closed.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The pause after a failed `accept` (say, out of file descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

fn main() {
    let config = PROGRAM.parse_args();
    let router = Router {
        flavor: Flavor::Async,
        limits: config.limits,
    };
    let listeners = listen::bind(config.addr, config.parallelism).unwrap_or_else(|error| {
        PROGRAM.fail(format_args!("cannot listen on {}: {error}", config.addr))
    });
    let addr = listeners[0]
        .local_addr()
        .expect("a bound socket has an address");
    let listening = format!("async-server listening on http://{addr}");

    let listeners = match <[_; 1]>::try_from(listeners) {
        Ok([listener]) => {
            // One worker: this thread runs everything, the signal handling included.
            runtime().block_on(async {
                let stop = Stop::Signals(Signals::install());
                println!("{listening}");
                serve(listener, router, stop).await;
            });
            log::write_out();
            return;
        }
        Err(listeners) => listeners,
    };

    // Several workers: each runs its own runtime; this thread only relays the signals.
    let (tell, told) = watch::channel(());
    let (finished, mut all_finished) = mpsc::channel::<()>(1);
    for listener in listeners {
        let (stop, finished) = (Stop::Told(told.clone()), finished.clone());
        thread::spawn(move || {
            runtime().block_on(serve(listener, router, stop));
            log::write_out();
            drop(finished);
        });
    }
    drop(finished);
    runtime().block_on(async {
        let mut signals = Signals::install();
        println!("{listening}");
        tokio::select! {
            () = signals.next() => {}
            _ = all_finished.recv() => return,
        }
        let _ = tell.send(());
        tokio::select! {
            () = signals.next() => second_signal(),
            _ = all_finished.recv() => {}
        }
    });
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_park(log::write_out) // the thread is about to wait for work
        .build()
        .unwrap_or_else(|error| PROGRAM.fail(format_args!("cannot start tokio: {error}")))
}

/// Accepts and serves connections until told to stop, then lets the requests in progress
/// finish, for at most `--max-sleep`.
async fn serve(listener: std::net::TcpListener, router: Router, mut stop: Stop) {
    let listener = TcpListener::from_std(listener).expect("a non-blocking listener");
    let connections = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => serve_connection(stream, router, &connections),
                Err(error) => {
                    eprintln!("async-server: accept failed: {error}; retrying shortly");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            () = stop.next() => break,
        }
    }

    // From here on, new connections are refused.
    drop(listener);
    let grace = router.limits.max_sleep;
    eprintln!(
        "async-server: shutting down: finishing the requests in progress (for at most {} s)",
        grace.as_secs_f64()
    );
    // A request may have begun the longest sleep just before the signal: a moment more lets its
    // answer go out.
    let grace = grace + Duration::from_secs(1);
    tokio::select! {
        () = connections.shutdown() => {}
        () = tokio::time::sleep(grace) => eprintln!("async-server: grace period over; exiting"),
        () = stop.next() => second_signal(),
    }
}

fn second_signal() -> ! {
    eprintln!("async-server: second signal: exiting now");
    std::process::exit(130);
}

fn serve_connection(stream: TcpStream, router: Router, connections: &GracefulShutdown) {
    let connection = http1::Builder::new()
        .timer(TokioTimer::new()) // without a timer, the header read timeout does nothing
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .title_case_headers(true)
        .serve_connection(
            TokioIo::new(stream),
            service_fn(move |request| handle(request, router)),
        );
    let connection = connections.watch(connection);
    tokio::spawn(async move {
        // A client that sends garbage or hangs up has been answered or dropped by hyper already.
        let _ = connection.await;
    });
}

async fn handle(
    request: Request<Incoming>,
    router: Router,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let started = Instant::now();
    let me = Identity::current();
    let method = request.method().as_str();
    let target = request
        .uri()
        .path_and_query()
        .map_or("/", |target| target.as_str());
    log::lines(|log| log.start(me, method, target));

    let mut plan = router.plan(method, target);
    match plan.wait {
        None => {}
        Some(Wait::Sleep(duration)) => {
            tokio::time::sleep(duration).await; // yields the thread: other requests run meanwhile
        }
        Some(Wait::Block(duration)) => {
            // The mistake, on purpose: nothing else runs on this thread until the sleep ends.
            log::write_out();
            thread::sleep(duration);
        }
        Some(Wait::Offload(duration)) => {
            // The fix: the blocking sleep runs on tokio's blocking pool, and this task awaits it.
            let work = tokio::task::spawn_blocking(move || {
                thread::sleep(duration);
                Identity::current().tid
            });
            plan.answer.work_tid = work.await.ok();
        }
    }

    log::lines(|log| log.done(me, method, target, &plan.answer, started.elapsed()));
    Ok(into_response(plan.answer, me))
}

fn into_response(answer: Answer, me: Identity) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::default());
    *response.status_mut() = StatusCode::from_u16(answer.status).expect("a valid status");
    let headers = response.headers_mut();
    for (field, value) in answer.headers(me) {
        headers.insert(header_name(field), header_value(value));
    }
    *response.body_mut() = Full::new(match answer.body {
        Cow::Borrowed(text) => Bytes::from_static(text.as_bytes()),
        Cow::Owned(text) => Bytes::from(text),
    });
    response
}

fn header_name(field: Field) -> HeaderName {
    match field {
        Field::ContentType => header::CONTENT_TYPE,
        Field::Allow => header::ALLOW,
        Field::XPid => HeaderName::from_static("x-pid"),
        Field::XTid => HeaderName::from_static("x-tid"),
        Field::XWorkTid => HeaderName::from_static("x-work-tid"),
    }
}

fn header_value(value: Value) -> HeaderValue {
    match value {
        Value::Text(text) => HeaderValue::from_static(text),
        Value::Number(number) => HeaderValue::from(number),
    }
}

/// Where a worker learns that it must stop, and then that it must stop at once.
enum Stop {
    /// From `SIGINT` and `SIGTERM` themselves (a single worker).
    Signals(Signals),
    /// From the thread that handles the signals (one of several workers).
    Told(watch::Receiver<()>),
}

impl Stop {
    async fn next(&mut self) {
        match self {
            Stop::Signals(signals) => signals.next().await,
            // The sender gone means the process is ending: that is a stop too.
            Stop::Told(told) => {
                let _ = told.changed().await;
            }
        }
    }
}

/// `SIGINT` (Ctrl-C) and `SIGTERM`.
struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    /// Installs the handlers now, not when first polled, so that a signal sent as soon as the
    /// `listening on` line is out is caught.
    fn install() -> Signals {
        let install = |kind| {
            signal(kind).unwrap_or_else(|error| {
                PROGRAM.fail(format_args!("cannot handle signals: {error}"))
            })
        };
        Signals {
            interrupt: install(SignalKind::interrupt()),
            terminate: install(SignalKind::terminate()),
        }
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}
