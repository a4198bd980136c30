//! The floor for async-server: the least a hyper server on one `current_thread` runtime can do.
//! It answers with [`bench::hello`]: no logging, no parsing beyond a `/sleep`'s seconds, no
//! timer but the sleep's. `hello-hyper-guarded` is the same with async-server's timeouts.

use hyper::server::conn::http1;
use hyper::service::service_fn;
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
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(bench::hello))
                    .await;
            });
        }
    });
}
