//! The index page, and the CORS that lets the other server's page read the answers.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use crate::Server;

pub fn the_index_page_offers_the_experiment_and_answers_are_never_cached(binary: &str) {
    let server = Server::start(binary, &[]);
    let page = server.get("/");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let name = std::path::Path::new(binary)
        .file_name()
        .unwrap()
        .to_string_lossy();
    assert!(
        page.body.contains(&format!("<code>{name}</code>")),
        "says which server it is"
    );
    assert!(page
        .body
        .contains(&format!("<code id=\"pid\">{}</code>", server.pid())));
    let tid = page.tid().unwrap();
    assert!(page
        .body
        .contains(&format!("<code id=\"tid\">{tid}</code>")));
    assert!(page.body.contains(r#"id="run""#) && page.body.contains(r#"href="/nosleep""#));
    for target in ["/", "/nosleep", "/sleep?seconds=0", "/nope"] {
        assert_eq!(
            server.get(target).header("Cache-Control"),
            Some("no-store"),
            "{target}"
        );
    }
    let icon = server.get("/favicon.ico");
    assert_eq!((icon.status, icon.body.as_str()), (204, ""));
}

pub fn cors_lets_loopback_pages_read_answers_and_no_other(binary: &str) {
    let server = Server::start(binary, &[]);
    let ask = |origin: &str| {
        server.send_raw(
            format!(
                "GET /nosleep HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
    };
    for loopback in [
        "http://127.0.0.1:8001",
        "http://localhost:8000",
        "http://[::1]:8000",
    ] {
        let reply = ask(loopback);
        assert_eq!(reply.header("Access-Control-Allow-Origin"), Some(loopback));
        assert!(reply
            .header("Access-Control-Expose-Headers")
            .is_some_and(|h| h.contains("X-Tid")));
    }
    for foreign in [
        "http://example.com",
        "http://192.168.1.5:8000",
        "https://127.0.0.1:8001",
    ] {
        let reply = ask(foreign);
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.header("Access-Control-Allow-Origin"),
            None,
            "{foreign}"
        );
    }
}

/// An `Origin` is echoed in `Access-Control-Allow-Origin` only when the whole of it is a loopback
/// origin: one with a bare line feed and a header after it adds no header to the answer (tiny_http
/// keeps the line feed in the value, so the value is not an origin; httparse ends the line there,
/// so the origin before it may be echoed), and one whose port is not a number, or with anything
/// after the host, is not echoed.
pub fn an_origin_is_echoed_only_when_it_is_a_whole_loopback_origin(binary: &str) {
    let server = Server::start(binary, &[]);
    for origin in [
        "http://localhost:1\nX-Injected: 1",
        "http://localhost:1.evil.example",
        "http://[::1].evil",
        "http://localhost:8000/x",
    ] {
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let request = format!(
            "GET /nosleep HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).unwrap();
        let (head, _) = crate::wire::read_answer(&mut stream);
        // Refusing the request whole (400) is as good as not echoing its origin.
        assert!(
            [200, 400].contains(&head.status),
            "{origin:?}: {}",
            head.text
        );
        assert_eq!(head.field("x-injected"), None, "{origin:?}: {}", head.text);
        let echoed = head.field("access-control-allow-origin");
        let whole = origin.split('\n').next().filter(|_| origin.contains('\n'));
        assert!(
            echoed.is_none() || echoed.as_deref() == whole,
            "{origin:?}: {}",
            head.text
        );
    }
    // A whole loopback origin is still echoed (cors_lets_loopback_pages_read_answers_and_no_other).
    let allowed = server.send_raw(
        b"GET /nosleep HTTP/1.1\r\nHost: x\r\nOrigin: http://localhost:1\r\nConnection: close\r\n\r\n",
    );
    let echoed = allowed.header("Access-Control-Allow-Origin");
    assert_eq!(echoed, Some("http://localhost:1"));
}
