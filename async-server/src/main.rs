//! `async-server`: the async half of the experiment, `uvicorn --workers 1`.
//!
//! One thread runs everything: a tokio `current_thread` runtime accepts connections, reads
//! requests and runs the handlers. `/sleep` awaits `tokio::time::sleep`, which hands the thread
//! back to the runtime until the timer fires, so other requests run in the meantime.

mod log;

use std::borrow::Cow;
use std::convert::Infallible;
use std::pin::pin;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use shared::cli::{Config, Program};
use shared::{Answer, Field, Identity, Limits, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};

const PROGRAM: Program = Program {
    name: "async-server",
    version: env!("CARGO_PKG_VERSION"),
    about: "Async HTTP server on one thread: hyper on a tokio current_thread runtime, like \
            `uvicorn --workers 1`.",
    default_port: 8001,
};

/// A client gets this long to send its request head before the connection is closed.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The pause after a failed `accept` (say, out of file descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

fn main() {
    let config = PROGRAM.parse_args();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_park(log::write_out) // the thread is about to wait for work
        .build()
        .unwrap_or_else(|error| PROGRAM.fail(format_args!("cannot start tokio: {error}")));
    runtime.block_on(serve(config));
    log::write_out();
}

async fn serve(config: Config) {
    let listener = TcpListener::bind(config.addr)
        .await
        .unwrap_or_else(|error| {
            PROGRAM.fail(format_args!("cannot listen on {}: {error}", config.addr))
        });
    let mut stop = pin!(shutdown_signal());
    let addr = listener
        .local_addr()
        .expect("a bound socket has an address");
    println!("async-server listening on http://{addr}");

    let connections = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => serve_connection(stream, config.limits, &connections),
                Err(error) => {
                    eprintln!("async-server: accept failed: {error}; retrying shortly");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            () = &mut stop => break,
        }
    }

    // From here on, new connections are refused.
    drop(listener);
    let grace = config.limits.max_sleep;
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
        () = shutdown_signal() => {
            eprintln!("async-server: second signal: exiting now");
            std::process::exit(130);
        }
    }
}

fn serve_connection(stream: TcpStream, limits: Limits, connections: &GracefulShutdown) {
    let connection = http1::Builder::new()
        .timer(TokioTimer::new()) // without a timer, the header read timeout does nothing
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .title_case_headers(true)
        .serve_connection(
            TokioIo::new(stream),
            service_fn(move |request| handle(request, limits)),
        );
    let connection = connections.watch(connection);
    tokio::spawn(async move {
        // A client that sends garbage or hangs up has been answered or dropped by hyper already.
        let _ = connection.await;
    });
}

async fn handle(
    request: Request<Incoming>,
    limits: Limits,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let started = Instant::now();
    let me = Identity::current();
    let method = request.method().as_str();
    let target = request
        .uri()
        .path_and_query()
        .map_or("/", |target| target.as_str());
    log::lines(|log| log.start(me, method, target));

    let plan = shared::plan(method, target, &limits);
    if let Some(wait) = plan.wait {
        tokio::time::sleep(wait).await; // yields the thread: other requests run meanwhile
    }

    log::lines(|log| log.done(me, method, target, plan.answer.status, started.elapsed()));
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
    }
}

fn header_value(value: Value) -> HeaderValue {
    match value {
        Value::Text(text) => HeaderValue::from_static(text),
        Value::Number(number) => HeaderValue::from(number),
    }
}

/// Resolves on `SIGINT` (Ctrl-C) or `SIGTERM`. The handlers are installed when this is called,
/// not when it is first polled, so a signal sent right after the `listening on` line counts.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    let install = |kind| {
        signal(kind)
            .unwrap_or_else(|error| PROGRAM.fail(format_args!("cannot handle signals: {error}")))
    };
    let mut interrupt = install(SignalKind::interrupt());
    let mut terminate = install(SignalKind::terminate());
    async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    }
}
