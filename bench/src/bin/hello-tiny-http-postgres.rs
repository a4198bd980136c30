//! The `/query` floor for sync-server: tiny_http, `--threads N` handler threads each holding one
//! blocking `postgres` connection to `--database URL` with the statement prepared once, as
//! sync-server's threads each keep one. Every request runs `/query?seconds=0`'s statement and
//! answers the backend's process id. Nothing else: no logging, no timeouts, no routing.

use std::sync::Arc;

use tiny_http::{Response, Server};

fn main() {
    let port = bench::port_arg();
    let (url, threads) = bench::database_args();
    let server = Arc::new(Server::http(("127.0.0.1", port)).unwrap());
    println!(
        "hello-tiny-http-postgres listening on http://{}",
        server.server_addr()
    );
    let handlers: Vec<_> = (0..threads)
        .map(|_| {
            let (server, url) = (Arc::clone(&server), url.clone());
            std::thread::spawn(move || {
                let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                let statement = client.prepare(bench::STATEMENT).unwrap();
                for request in server.incoming_requests() {
                    let row = client.query_one(&statement, &[&0.0f64]).unwrap();
                    let pid: i32 = row.get(0);
                    let _ = request.respond(Response::from_string(pid.to_string()));
                }
            })
        })
        .collect();
    for handler in handlers {
        let _ = handler.join();
    }
}
