//! `hello-hyper` keeping the two promises of the interface that cost a timer, as async-server
//! keeps them: a client has 10 s to send a request head (hyper's header read timeout, which
//! needs hyper to be given a timer) and 10 s to take in an answer (a write timeout around the
//! socket). Beside the bare floor it shows what these promises cost, so that what the rest of
//! async-server costs can be read apart. With `--fields`, its answers also carry the four fields
//! every answer of the interface carries ([`bench::hello_with_fields`]), for what those cost.

use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_io_timeout::TimeoutStream;

const TIMEOUT: Duration = Duration::from_secs(10);

fn main() {
    let port = bench::port_arg();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        println!(
            "hello-hyper-guarded listening on http://{}",
            listener.local_addr().unwrap()
        );
        let fields = std::env::args().any(|arg| arg == "--fields");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let mut stream = TimeoutStream::new(stream);
            stream.set_write_timeout(Some(TIMEOUT));
            let mut http = http1::Builder::new();
            http.timer(TokioTimer::new()).header_read_timeout(TIMEOUT);
            let io = TokioIo::new(Box::pin(stream));
            tokio::spawn(async move {
                let _ = if fields {
                    let service = service_fn(bench::hello_with_fields);
                    http.serve_connection(io, service).await
                } else {
                    http.serve_connection(io, service_fn(bench::hello)).await
                };
            });
        }
    });
}
