//! tiny_http's types to and from the core's: a request's head and header lines in, an answer out.
//!
//! An answer goes out as status line, headers and body, put together in one buffer and written
//! once.
//! tiny_http's own `Response` would do it, at a cost that shows next to a request this small: it
//! allocates two strings for every header and writes each header in four calls through a lock.
//! Against a request of a few microseconds that cost more than the log and the routing together
//! (the benchmark runner shows it: `hello-tiny-http-response` against `hello-tiny-http`). tiny_http
//! offers the connection's writer for answers it should not format itself
//! ([`Request::into_writer`]); what its `Response` would add is added here: `Date`,
//! `Content-Length`, and no body for `HEAD` or a status that has none.

use std::time::{SystemTime, UNIX_EPOCH};

use shared::{Answer, Head, Identity, Value, Version};
use tiny_http::{Method, Request, StatusCode};

use crate::tiny_http_gaps::TinyHttp;

pub fn head(request: &Request) -> Head<'_> {
    let version = request.http_version();
    Head {
        method: request.method().as_str(),
        target: request.url(),
        version: Version::of(version.0, version.1),
    }
}

pub fn headers(request: &Request) -> impl Iterator<Item = (&str, &[u8])> {
    let headers = request.headers().iter();
    headers.map(|header| (header.field.as_str().as_str(), header.value.as_bytes()))
}

/// What one handler thread keeps between answers: the buffer, and the `Date` of this second.
pub struct Responder {
    buffer: Vec<u8>,
    date: Date,
    /// Where the answers go: tiny_http's writer for each, through what lets a client slow to
    /// take them in stall nobody.
    tiny_http: &'static TinyHttp,
}

struct Date {
    second: u64,
    text: String,
}

impl Responder {
    pub fn new(tiny_http: &'static TinyHttp) -> Responder {
        Responder {
            buffer: Vec::with_capacity(1024),
            date: Date {
                second: u64::MAX,
                text: String::new(),
            },
            tiny_http,
        }
    }

    /// Sends `answer` to the client of `request`, as answered by the thread `who`: at once, or,
    /// for a client slow to take it in, from a thread of its own ([`TinyHttp::send`]).
    pub fn respond(&mut self, request: Request, answer: &Answer, who: Identity) {
        let stays_open = keeps_alive(&request);
        self.send(request, answer, who, stays_open);
    }

    /// Answers `request`, the first on a connection past `--max-connections`, with `503` and
    /// `Retry-After`, saying that the connection closes.
    pub fn refuse(&mut self, request: Request, who: Identity) {
        self.send(request, &Answer::overloaded(), who, false);
    }

    /// Sends `answer`, saying whether the connection stays open after it.
    fn send(&mut self, request: Request, answer: &Answer, who: Identity, stays_open: bool) {
        let mut number = itoa::Buffer::new();
        let out = &mut self.buffer;
        out.clear();
        // Answer in the request's version, as tiny_http and hyper do (1.0 for a 1.0 client).
        let version = head(&request).version;
        out.extend_from_slice(match version {
            Version::Http10 => b"HTTP/1.0 ",
            Version::Http11 | Version::Other => b"HTTP/1.1 ",
        });
        out.extend_from_slice(number.format(answer.status).as_bytes());
        out.push(b' ');
        let reason = StatusCode(answer.status).default_reason_phrase();
        out.extend_from_slice(reason.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (field, value) in answer.headers(who) {
            let value = match value {
                Value::Text(text) | Value::Echo(text) => text,
                Value::Number(value) => number.format(value),
            };
            line(out, field.as_str(), value);
        }
        line(out, "Date", self.date.now());
        match (stays_open, version) {
            (false, _) => line(out, "Connection", "close"),
            (true, Version::Http10) => line(out, "Connection", "keep-alive"),
            (true, _) => {}
        }
        // A 1xx, 204 or 304 has no body; nor a Content-Length, which a 1xx or 204 must not have.
        let bodiless = matches!(answer.status, 100..=199 | 204 | 304);
        if !bodiless {
            line(out, "Content-Length", number.format(answer.body.len()));
        }
        out.extend_from_slice(b"\r\n");
        if !bodiless && *request.method() != Method::Head {
            out.extend_from_slice(answer.body.as_bytes());
        }

        let peer = request.remote_addr().copied();
        self.tiny_http.send(peer, request.into_writer(), out);
    }
}

/// Whether tiny_http goes on reading requests from this connection after this one. Its rule,
/// which the answer must state: it closes after a request whose `Connection` contains `close` or
/// `upgrade`, and after an HTTP/1.0 request whose `Connection` does not contain `keep-alive`.
/// tiny_http looks for these words anywhere in the value, not as whole tokens (`closed` counts
/// as `close`), so this does too: the answer must say what tiny_http will do.
fn keeps_alive(request: &Request) -> bool {
    let connection = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Connection"));
    let says = |word: &str| {
        connection.is_some_and(|h| {
            let value = h.value.as_str().as_bytes();
            value
                .windows(word.len())
                .any(|part| part.eq_ignore_ascii_case(word.as_bytes()))
        })
    };
    if says("close") || says("upgrade") {
        return false;
    }
    *request.http_version() != (1, 0) || says("keep-alive")
}

fn line(out: &mut Vec<u8>, field: &str, value: &str) {
    out.extend_from_slice(field.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

impl Date {
    /// The `Date` header's value, formatted once a second at most.
    fn now(&mut self) -> &str {
        let now = SystemTime::now();
        let second = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        if second != self.second {
            self.second = second;
            self.text = httpdate::fmt_http_date(now);
        }
        &self.text
    }
}
