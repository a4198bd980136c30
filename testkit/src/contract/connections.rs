//! Connections: answers framed one after another, kept open or closed as the version says, and malformed requests refused.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use crate::wire::AnswerHead;
use crate::Server;

/// Requests sent together on one connection get their answers in order, each framed so that
/// the next can be found: a `Date`, and a `Content-Length` equal to the body sent, except for a
/// `HEAD` (the length, no body) and a `204` (neither).
pub fn answers_on_one_connection_are_framed_one_after_another(binary: &str) {
    let server = Server::start(binary, &[]);
    let asked = [
        ("GET", "/nosleep", 200),
        ("HEAD", "/sleep?seconds=0", 200),
        ("GET", "/favicon.ico", 204),
        ("GET", "/nope", 404),
        ("GET", "/", 200), // the page: larger than a write buffer
        ("GET", "/sleep?seconds=0", 200),
    ];
    let mut raw = String::new();
    for (at, (method, target, _)) in asked.iter().enumerate() {
        let last = if at + 1 == asked.len() {
            "Connection: close\r\n"
        } else {
            ""
        };
        raw += &format!("{method} {target} HTTP/1.1\r\nHost: test\r\n{last}\r\n");
    }
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut stream, &mut bytes).expect("the server closes after the last");

    let mut rest = &bytes[..];
    for (method, target, status) in asked {
        let (head, length) = crate::wire::head(rest)
            .unwrap_or_else(|| panic!("{method} {target}: no answer head in {rest:?}"));
        rest = &rest[length..];
        assert!(
            head.text.starts_with(&format!("HTTP/1.1 {status} ")),
            "{method} {target}: {}",
            head.text
        );
        assert!(
            head.field("Date").is_some(),
            "{method} {target}: no Date in {}",
            head.text
        );
        let length = head.content_length();
        if status == 204 {
            assert_eq!(
                length, None,
                "{method} {target}: a 204 has no Content-Length"
            );
            continue;
        }
        let length = length.unwrap_or_else(|| panic!("{method} {target}: no Content-Length"));
        assert!(length > 0, "{method} {target}");
        if method == "GET" {
            assert!(rest.len() >= length, "{method} {target}: body cut short");
            rest = &rest[length..];
        }
    }
    assert!(rest.is_empty(), "bytes after the last answer: {rest:?}");
}

/// Sends `request` on `stream` and reads one answer; returns its head and whether the server
/// closed the connection after that answer.
pub(crate) fn exchange(stream: &mut TcpStream, request: &str) -> (AnswerHead, bool) {
    stream.write_all(request.as_bytes()).unwrap();
    let (head, _, closed) = crate::wire::read_answer_seeing_close(stream);
    (head, closed)
}

/// HTTP/1.1 keeps a connection open unless the request says `close`; HTTP/1.0 closes it unless
/// the request says `keep-alive`. An answer says `Connection: keep-alive` where HTTP/1.0 needs it
/// and `Connection: close` before the server closes. (ApacheBench's `-k` waits for the first.)
pub fn connection_headers_say_whether_the_connection_stays_open(binary: &str) {
    let server = Server::start(binary, &[]);
    let connect = || {
        let stream = TcpStream::connect(server.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    };
    for (version, connection, kept, says) in [
        ("1.1", "", true, None),
        ("1.1", "Connection: keep-alive\r\n", true, None),
        ("1.1", "Connection: close\r\n", false, Some("close")),
        ("1.1", "Connection: Close\r\n", false, Some("close")),
        ("1.0", "", false, Some("close")),
        ("1.0", "Connection: close\r\n", false, Some("close")),
        (
            "1.0",
            "Connection: Keep-Alive\r\n",
            true,
            Some("keep-alive"),
        ),
    ] {
        let request = format!("GET /nosleep HTTP/{version}\r\nHost: test\r\n{connection}\r\n");
        let mut stream = connect();
        let (head, closed) = exchange(&mut stream, &request);
        let case = format!("HTTP/{version} {connection:?}");
        let shown = &head.text;
        assert_eq!(closed, !kept, "{case}: closed after the answer? {shown}");
        let field = head.field("connection");
        match says {
            Some(value) => assert_eq!(field.as_deref(), Some(value), "{case}: {shown}"),
            None => assert!(field.as_deref() != Some("close"), "{case}: {shown}"),
        }
        if kept {
            let (again, _) = exchange(&mut stream, &request);
            assert_eq!(
                again.status, 200,
                "{case}: a second request: {}",
                again.text
            );
        }
    }
}

pub fn malformed_requests_get_a_4xx_and_the_server_keeps_serving(binary: &str) {
    let server = Server::start(binary, &[]);
    for raw in [
        &b"garbage\r\n\r\n"[..],
        b"GET\r\n\r\n",
        b"GET /nosleep HTTP/1.1\r\nno colon here\r\n\r\n",
    ] {
        let reply = server.send_raw(raw);
        let shown = String::from_utf8_lossy(raw);
        assert!((400..500).contains(&reply.status), "{shown:?}: {reply:?}");
        assert_eq!(server.get("/nosleep").status, 200, "after {shown:?}");
    }
}
