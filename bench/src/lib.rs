//! What the fixtures share: reading `--port N` (and the `/query` floors' database flags), a
//! `/sleep` query's `seconds`, and the hyper floors' one handler.

use std::convert::Infallible;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Request, Response};
use shared::Identity;

/// The value of `--port N` on the command line, or 0.
pub fn port_arg() -> u16 {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|arg| arg == "--port");
    at.and_then(|at| args.get(at + 1)?.parse().ok())
        .unwrap_or(0)
}

/// The statement `/query` runs, as both servers prepare it; the floors run it with 0 seconds.
pub const STATEMENT: &str = "SELECT pg_backend_pid() FROM pg_sleep($1)";

/// `--database URL` and `--db-pool N` (or `--threads N`; 4 when neither is given), for the
/// `/query` floors.
pub fn database_args() -> (String, usize) {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        let at = args.iter().position(|arg| arg == flag)?;
        args.get(at + 1).cloned()
    };
    let url = value("--database").expect("--database URL");
    let size = value("--db-pool")
        .or_else(|| value("--threads"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(4);
    (url, size)
}

/// `seconds` from a query such as `seconds=2`, if the request is a `/sleep`.
pub fn sleep_seconds(query: Option<&str>) -> Option<f64> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("seconds="))?
        .parse()
        .ok()
}

/// What a blocking fixture does for `url`: sleeps first if it is a `/sleep`, then returns the body.
pub fn blocking_answer(url: &str) -> &'static str {
    let query = url.split_once('?').map(|(_, query)| query);
    match sleep_seconds(query) {
        Some(seconds) => {
            std::thread::sleep(Duration::from_secs_f64(seconds));
            "sleep"
        }
        None => "no sleep",
    }
}

/// The hyper floors' handler: `/sleep?seconds=S` awaits `tokio::time::sleep` and answers `sleep`;
/// anything else answers `no sleep` at once.
pub async fn hello(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if let Some(seconds) = sleep_seconds(request.uri().query()) {
        tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
        return Ok(Response::new(Full::new(Bytes::from_static(b"sleep"))));
    }
    Ok(Response::new(Full::new(Bytes::from_static(b"no sleep"))))
}

/// [`hello`], with the four fields every answer of the interface carries
/// ([`interface_fields`]): what hyper takes to carry them, apart from everything else
/// async-server does.
pub async fn hello_with_fields(
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = hello(request).await?;
    *response.headers_mut() = interface_fields();
    Ok(response)
}

/// The four fields every answer of the interface carries (`Content-Type`, `X-Pid`, `X-Tid`,
/// `Cache-Control`), built once per thread and copied, as async-server does.
pub fn interface_fields() -> HeaderMap {
    thread_local! {
        static FIELDS: HeaderMap = {
            let me = Identity::current();
            let mut fields = HeaderMap::with_capacity(4);
            fields.insert(CONTENT_TYPE, HeaderValue::from_static(shared::CONTENT_TYPE));
            fields.insert(HeaderName::from_static("x-pid"), HeaderValue::from(me.pid));
            fields.insert(HeaderName::from_static("x-tid"), HeaderValue::from(me.tid));
            fields.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            fields
        };
    }
    FIELDS.with(HeaderMap::clone)
}
