//! hello-tiny-http as tiny_http's documentation would write it, with its `Response`: a reference
//! beside the floor, to show what that `Response` costs (sync-server writes its answers itself).

use tiny_http::{Response, Server};

fn main() {
    let port = bench::port_arg();
    let server = Server::http(("127.0.0.1", port)).unwrap();
    println!(
        "hello-tiny-http-response listening on http://{}",
        server.server_addr()
    );
    for request in server.incoming_requests() {
        let body = bench::blocking_answer(request.url());
        let _ = request.respond(Response::from_string(body));
    }
}
