//! The floor for sync-server: the least a tiny_http server with one handler thread can do.
//! `/nosleep` answers `no sleep`; `/sleep?seconds=S` sleeps first. No logging. Like sync-server,
//! it writes each answer in one piece to the connection's writer, with what hello-hyper's answers
//! carry: `Date` (formatted once a second) and `Content-Length`.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
        let query = request.url().split_once('?').map(|(_, query)| query);
        let body = match bench::sleep_seconds(query) {
            Some(seconds) => {
                std::thread::sleep(Duration::from_secs_f64(seconds));
                "sleep"
            }
            None => "no sleep",
        };
        let now = SystemTime::now();
        let this_second = now.duration_since(UNIX_EPOCH).unwrap().as_secs();
        if this_second != second {
            (second, date) = (this_second, httpdate::fmt_http_date(now));
        }
        answer.clear();
        let length = body.len();
        write!(
            answer,
            "HTTP/1.1 200 OK\r\nDate: {date}\r\nContent-Length: {length}\r\n\r\n{body}"
        )
        .unwrap();
        let mut connection = request.into_writer();
        let _ = connection.write_all(&answer);
        let _ = connection.flush();
    }
}
