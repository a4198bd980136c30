//! The `/query` floor for async-server: hyper on one `current_thread` runtime, and tokio-postgres
//! through a pool (`deadpool-postgres`) of `--db-pool N` connections to `--database URL`, the
//! statement prepared once per connection. Every request runs `/query?seconds=0`'s statement and
//! answers the backend's process id. Nothing else: no logging, no timeouts, no routing.
//!
//! With `--guarded`, it also keeps the interface's promises that cost something on every request,
//! the way async-server keeps them: a header read timeout and a write timeout on each connection,
//! one timer bounding each query, the `START` and `DONE` lines gathered and written whenever the
//! runtime is about to wait, and the fields every answer carries. Beside the bare floor it shows
//! what those promises cost, so that what the rest of async-server costs can be read apart.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use shared::os::log;
use shared::{Answer, Head, Identity, Version};
use tokio::net::{TcpListener, TcpStream};
use tokio_io_timeout::TimeoutStream;

/// The guarded floor's timeouts, async-server's defaults.
const TIMEOUT: Duration = Duration::from_secs(10);

fn main() {
    let port = bench::port_arg();
    let (url, size) = bench::database_args();
    let guarded = std::env::args().any(|arg| arg == "--guarded");
    let config: tokio_postgres::Config = url.parse().expect("--database URL");
    let manager = Manager::from_config(
        config,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let mut runtime = tokio::runtime::Builder::new_current_thread();
    if guarded {
        runtime.on_thread_park(log::flush);
    }
    let runtime = runtime.enable_all().build().unwrap();
    runtime.block_on(async {
        let pool = Pool::builder(manager).max_size(size).build().unwrap();
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        println!(
            "hello-hyper-postgres listening on http://{}",
            listener.local_addr().unwrap()
        );
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(serve(stream, pool.clone(), guarded));
        }
    });
}

async fn serve(stream: TcpStream, pool: Pool, guarded: bool) {
    if !guarded {
        let service = service_fn(move |_| query(pool.clone()));
        let io = TokioIo::new(stream);
        let _ = http1::Builder::new().serve_connection(io, service).await;
        return;
    }
    let mut stream = TimeoutStream::new(stream);
    stream.set_write_timeout(Some(TIMEOUT));
    let io = TokioIo::new(Box::pin(stream));
    let service = service_fn(move |request| query_guarded(pool.clone(), request));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(TIMEOUT);
    let _ = http.serve_connection(io, service).await;
}

async fn query(pool: Pool) -> Result<Response<Full<Bytes>>, Infallible> {
    let pid = backend_pid(&pool).await;
    Ok(Response::new(Full::new(Bytes::from(pid.to_string()))))
}

async fn query_guarded(
    pool: Pool,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let started = Instant::now();
    let who = Identity::current();
    let head = Head {
        method: request.method().as_str(),
        target: request.uri().path_and_query().map_or("/", |p| p.as_str()),
        version: Version::Http11,
    };
    log::gather(|log| log.start(who, head));
    let pid = tokio::select! {
        pid = backend_pid(&pool) => pid,
        () = tokio::time::sleep(TIMEOUT) => panic!("no answer from the database"),
    };
    let answer = Answer {
        status: 200,
        retry_after: None,
        db_pid: Some(pid),
        ..Answer::overloaded()
    };
    log::gather(|log| log.done(who, head, &answer, started.elapsed()));
    let mut response = Response::new(Full::new(Bytes::from_static(b"query")));
    *response.headers_mut() = bench::interface_fields();
    let pid_field = HeaderName::from_static("x-db-pid");
    response
        .headers_mut()
        .insert(pid_field, HeaderValue::from(pid));
    Ok(response)
}

/// Runs the statement on a pooled connection: the backend's process id.
async fn backend_pid(pool: &Pool) -> u32 {
    let client = pool.get().await.expect("a pooled connection");
    let statement = client
        .prepare_cached(bench::STATEMENT)
        .await
        .expect("the statement prepares");
    let row = client
        .query_one(&statement, &[&0.0f64])
        .await
        .expect("the query runs");
    row.get::<_, i32>(0) as u32
}
