//! The `/query` floor for async-server: hyper on one `current_thread` runtime, and tokio-postgres
//! through a pool (`deadpool-postgres`) of `--db-pool N` connections to `--database URL`, the
//! statement prepared once per connection. Every request runs `/query?seconds=0`'s statement and
//! answers the backend's process id. Nothing else: no logging, no timeouts, no routing.

use std::convert::Infallible;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Response;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_postgres::NoTls;

fn main() {
    let port = bench::port_arg();
    let (url, size) = bench::database_args();
    let config: tokio_postgres::Config = url.parse().expect("--database URL");
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let pool = Pool::builder(manager)
            .max_size(size)
            .runtime(Runtime::Tokio1)
            .build()
            .unwrap();
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        println!(
            "hello-hyper-postgres listening on http://{}",
            listener.local_addr().unwrap()
        );
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let pool = pool.clone();
            tokio::spawn(async move {
                let service = service_fn(move |_| query(pool.clone()));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

async fn query(pool: Pool) -> Result<Response<Full<Bytes>>, Infallible> {
    let client = pool.get().await.expect("a pooled connection");
    let statement = client
        .prepare_cached(bench::STATEMENT)
        .await
        .expect("the statement prepares");
    let row = client
        .query_one(&statement, &[&0.0f64])
        .await
        .expect("the query runs");
    let pid: i32 = row.get(0);
    Ok(Response::new(Full::new(Bytes::from(pid.to_string()))))
}
