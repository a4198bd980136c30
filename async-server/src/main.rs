//! `async-server`: the async half of the experiment, `uvicorn --workers 1`.
//!
//! One thread runs everything: a tokio `current_thread` runtime accepts connections, reads
//! requests and runs the handlers. `/sleep` awaits `tokio::time::sleep`, which hands the thread
//! back to the runtime until the timer fires, so other requests run in the meantime. `/block`
//! shows the mistake (a blocking sleep in an async handler) and `/offload` the fix (the blocking
//! sleep on tokio's blocking pool, awaited). `--workers N` runs N such runtimes, each on a thread
//! of its own with a socket of its own on the same port, like `uvicorn --workers N`.

// Peak RSS (VmHWM) holding 10,000 sleeping connections, measured with the bench runner's
// fan-out client (`bench fanout-client ADDR 10000 2`) with each allocator swapped in here:
// 124 MiB with jemalloc, 157 to 161 MiB with the system allocator (glibc), 250 MiB or more with
// mimalloc. Throughput the same. The runner's own table shows the allocator in use.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod listen;
mod log;

use std::borrow::Cow;
use std::convert::Infallible;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use clap::{value_parser, Parser};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use shared::cli::{self, Common, WithCommon};
use shared::{Answer, Field, Flavor, Identity, Router, Value, Wait};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::{mpsc, watch, Semaphore};

/// Async HTTP server on one thread: hyper on a tokio current_thread runtime, like
/// `uvicorn --workers 1`.
#[derive(Parser, Debug)]
#[command(name = "async-server", version)]
struct Cli {
    #[command(flatten)]
    common: Common,
    /// Port to bind; 0 picks a free one
    #[arg(short, long, value_name = "N", default_value_t = 8001)]
    port: u16,
    /// How many single-threaded runtimes serve the port, each on a thread of its own, like
    /// `uvicorn --workers N` (whose workers are processes)
    #[arg(long, value_name = "N", default_value = "1", value_parser = cli::count)]
    workers: usize,
    /// The most connections served at once; past it, a new one is answered 503 and closed
    #[arg(long, value_name = "N", default_value_t = 20_000, value_parser = value_parser!(u32).range(1..))]
    max_connections: u32,
}

impl WithCommon for Cli {
    fn common(&self) -> &Common {
        &self.common
    }
}

/// What every connection of every worker is served with.
#[derive(Clone)]
struct Settings {
    router: Router,
    header_timeout: Duration,
    /// One permit per connection being served, across all workers.
    connections: Arc<Semaphore>,
}

/// The pause after a failed `accept` (say, out of file descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

fn main() {
    let args: Cli = cli::parse();
    let settings = Settings {
        router: Router {
            flavor: Flavor::Async,
            limits: args.common.limits(),
        },
        header_timeout: args.common.header_timeout,
        connections: Arc::new(Semaphore::new(args.max_connections as usize)),
    };
    let addr = args.common.addr(args.port);
    let listeners = listen::bind(addr, args.workers)
        .unwrap_or_else(|error| cli::fail(format_args!("cannot listen on {addr}: {error}")));
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
                serve(listener, settings, stop).await;
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
        let (stop, finished, settings) =
            (Stop::Told(told.clone()), finished.clone(), settings.clone());
        thread::spawn(move || {
            runtime().block_on(serve(listener, settings, stop));
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
        .unwrap_or_else(|error| cli::fail(format_args!("cannot start tokio: {error}")))
}

/// Accepts and serves connections until told to stop, then lets the requests in progress
/// finish, for at most `--max-sleep`.
async fn serve(listener: std::net::TcpListener, settings: Settings, mut stop: Stop) {
    let listener = TcpListener::from_std(listener).expect("a non-blocking listener");
    let connections = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => serve_connection(stream, &settings, &connections),
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
    let grace = settings.router.limits.max_sleep;
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

fn serve_connection(stream: TcpStream, settings: &Settings, connections: &GracefulShutdown) {
    // Past --max-connections a connection is still answered, with a 503, and then closed.
    let permit = Arc::clone(&settings.connections).try_acquire_owned().ok();
    let router = settings.router;
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()) // without a timer, the header read timeout does nothing
        .header_read_timeout(settings.header_timeout)
        .max_buf_size(shared::MAX_HEAD) // a longer request head gets 431
        .keep_alive(permit.is_some());
    let connection = http.serve_connection(
        TokioIo::new(stream),
        service_fn(move |request| {
            let overloaded = permit.is_none();
            async move {
                if overloaded {
                    return Ok(into_response(Answer::overloaded(), Identity::current()));
                }
                handle(request, router).await
            }
        }),
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

    let version = match request.version() {
        Version::HTTP_10 => (1, 0),
        Version::HTTP_11 => (1, 1),
        _ => (2, 0),
    };
    let headers = request.headers().iter();
    let headers = headers.map(|(name, value)| (name.as_str(), value.as_bytes()));
    let mut plan = router.plan_request(method, target, version, headers);
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
        Field::RetryAfter => header::RETRY_AFTER,
        Field::CacheControl => header::CACHE_CONTROL,
        Field::AccessControlAllowOrigin => header::ACCESS_CONTROL_ALLOW_ORIGIN,
        Field::AccessControlExposeHeaders => header::ACCESS_CONTROL_EXPOSE_HEADERS,
    }
}

fn header_value(value: Value) -> HeaderValue {
    match value {
        Value::Text(text) => HeaderValue::from_static(text),
        Value::Number(number) => HeaderValue::from(number),
        // Taken from a request header, so it is a valid header value.
        Value::Echo(text) => HeaderValue::from_str(text).expect("a request header's value"),
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
            signal(kind)
                .unwrap_or_else(|error| cli::fail(format_args!("cannot handle signals: {error}")))
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
