//! The floor for async-server: the least a hyper server on one `current_thread` runtime can do.
//! `/nosleep` answers `no sleep`; `/sleep?seconds=S` awaits `tokio::time::sleep` first. No
//! logging, no parsing beyond that.

use std::convert::Infallible;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

fn main() {
    let port = bench::port_arg();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        println!(
            "hello-hyper listening on http://{}",
            listener.local_addr().unwrap()
        );
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let service = service_fn(|request: Request<hyper::body::Incoming>| async move {
                    if let Some(seconds) = bench::sleep_seconds(request.uri().query()) {
                        tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
                        return Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                            b"sleep",
                        ))));
                    }
                    Ok(Response::new(Full::new(Bytes::from_static(b"no sleep"))))
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}
