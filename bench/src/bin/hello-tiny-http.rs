//! The floor for sync-server: the least a tiny_http server with one handler thread can do.
//! `/nosleep` answers `no sleep`; `/sleep?seconds=S` sleeps first. No logging. Like sync-server,
//! it writes each answer in one piece to the connection's writer, with what hello-hyper's answers
//! carry: `Date` (formatted once a second) and `Content-Length`, copied into one reused buffer
//! without formatting machinery, as sync-server does.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use tiny_http::Server;

fn main() {
    let port = bench::port_arg();
    let server = Server::http(("127.0.0.1", port)).unwrap();
    println!(
        "hello-tiny-http listening on http://{}",
        server.server_addr()
    );
    let (mut second, mut date) = (u64::MAX, String::new());
    let mut answer = Vec::new();
    for request in server.incoming_requests() {
        let body = bench::blocking_answer(request.url());
        let now = SystemTime::now();
        let this_second = now.duration_since(UNIX_EPOCH).unwrap().as_secs();
        if this_second != second {
            (second, date) = (this_second, httpdate::fmt_http_date(now));
        }
        answer.clear();
        for part in [
            "HTTP/1.1 200 OK\r\nDate: ",
            &date,
            "\r\nContent-Length: ",
            itoa::Buffer::new().format(body.len()),
            "\r\n\r\n",
            body,
        ] {
            answer.extend_from_slice(part.as_bytes());
        }
        let mut connection = request.into_writer();
        let _ = connection.write_all(&answer);
        let _ = connection.flush();
    }
}
