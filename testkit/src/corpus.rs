//! Malformed requests, and what a server must do with each: answer 4xx or 5xx, or close the
//! connection, within a bounded time, and go on serving.
//!
//! Every item is a complete message (the server never waits for more), so a server that does
//! not answer within `PATIENCE` (5 s) has hung. Where a wrongly accepted request could hide behind a
//! `404`, the target is `/nosleep`, so acceptance shows as a `200`.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use crate::Server;

/// The longest a server may take over one malformed request.
const PATIENCE: Duration = Duration::from_secs(5);

/// `(name, bytes)` for each malformed request.
pub fn malformed() -> Vec<(String, Vec<u8>)> {
    let mut corpus: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |name: &str, bytes: Vec<u8>| corpus.push((name.to_owned(), bytes));
    let request = |line: &str, headers: &str| {
        format!("{line}\r\nHost: x\r\nConnection: close\r\n{headers}\r\n").into_bytes()
    };

    // Garbage.
    add("empty lines", b"\r\n\r\n".to_vec());
    add("a word", b"garbage\r\n\r\n".to_vec());
    add("spaces", b"                \r\n\r\n".to_vec());
    add("control bytes", b"\x00\x01\x02\x03\r\n\r\n".to_vec());
    add("all byte values", (0..=255u8).chain(*b"\r\n\r\n").collect());
    add(
        "pseudo-random bytes",
        pseudo_random(512).into_iter().chain(*b"\r\n\r\n").collect(),
    );
    add("TLS client hello", {
        let mut hello = vec![
            0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03,
        ];
        hello.extend(pseudo_random(160));
        hello
    });
    add(
        "HTTP/2 preface",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
    );

    // Request lines.
    for (name, line) in [
        ("method alone", "GET"),
        ("no version", "GET /nosleep"),
        ("no target", "GET  HTTP/1.1"),
        ("double space", "GET  /nosleep HTTP/1.1"),
        ("extra word", "GET /nosleep HTTP/1.1 extra"),
        ("space in method", "G ET /nosleep HTTP/1.1"),
        ("no method", "/nosleep HTTP/1.1"),
        ("tabs", "GET\t/nosleep\tHTTP/1.1"),
        ("version 1.2", "GET /nosleep HTTP/1.2"),
        ("version 2.0", "GET /nosleep HTTP/2.0"),
        ("version 0.9", "GET /nosleep HTTP/0.9"),
        ("version 9.9", "GET /nosleep HTTP/9.9"),
        ("HTTPS as version", "GET /nosleep HTTPS/1.1"),
        ("lowercase version", "GET /nosleep http/1.1"),
        ("version 1.1.1", "GET /nosleep HTTP/1.1.1"),
        ("version without number", "GET /nosleep HTTP/"),
        (
            "long method",
            &format!("{} /nosleep HTTP/1.1", "G".repeat(10_000)),
        ),
    ] {
        add(name, request(line, ""));
    }

    // Targets.
    for (name, target) in [
        ("NUL in target", "/nosleep\x00"),
        ("control byte in target", "/no\x01sleep"),
        ("DEL in target", "/nosleep\x7f"),
        ("escape sequence in target", "/\x1b[31mnosleep"),
        ("invalid percent-encoding in path", "/%zz"),
        (
            "64 KiB request line",
            &format!("/nosleep?{}", "a".repeat(64 * 1024)),
        ),
    ] {
        add(name, request(&format!("GET {target} HTTP/1.1"), ""));
    }
    let mut non_utf8 = request("GET /nosleep HTTP/1.1", "");
    non_utf8.splice(12..12, [0xff, 0xfe]);
    add("non-UTF-8 target", non_utf8);

    // Each kind of bad `seconds`.
    for value in [
        "abc",
        "",
        "-1",
        "61",
        "inf",
        "NaN",
        "1e999",
        "%zz",
        "%4",
        "1&seconds=2",
    ] {
        let line = format!("GET /sleep?seconds={value} HTTP/1.1");
        add(&format!("seconds={value}"), request(&line, ""));
    }

    // Header lines.
    for (name, header) in [
        ("header without colon", "no colon here\r\n"),
        ("empty header name", ": value\r\n"),
        ("space in header name", "Bad Header: x\r\n"),
        ("space before colon", "X-A : x\r\n"),
        ("NUL header name", "\x00: x\r\n"),
        ("folded header", "X-A: a\r\n folded\r\n"),
        ("control byte in value", "X-A: a\x01b\r\n"),
    ] {
        add(name, request("GET /nosleep HTTP/1.1", header));
    }
    add(
        "1 MiB header",
        request(
            "GET /nosleep HTTP/1.1",
            &format!("X-Big: {}\r\n", "b".repeat(1 << 20)),
        ),
    );
    add(
        "10,000 headers",
        request("GET /nosleep HTTP/1.1", &"X-A: a\r\n".repeat(10_000)),
    );
    add(
        "200 headers",
        request("GET /nosleep HTTP/1.1", &"X-A: a\r\n".repeat(200)),
    );

    // Bodies a GET should not have, or cannot have.
    for (name, headers) in [
        ("Content-Length not a number", "Content-Length: nope\r\n"),
        ("negative Content-Length", "Content-Length: -1\r\n"),
        (
            "absurd Content-Length",
            "Content-Length: 99999999999999999999999\r\n",
        ),
        ("list as Content-Length", "Content-Length: 1, 2\r\n"),
        (
            "two Content-Lengths",
            "Content-Length: 1\r\nContent-Length: 2\r\n",
        ),
        (
            "Content-Length and chunked",
            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        ),
        ("unknown transfer coding", "Transfer-Encoding: gzip\r\n"),
    ] {
        add(name, request("GET /nosleep HTTP/1.1", headers));
    }
    for (name, body) in [
        ("chunk size not hex", "zz\r\nabc\r\n0\r\n\r\n"),
        ("chunk shorter than its size", "5\r\nab\r\n0\r\n\r\n"),
        (
            "chunk size overflowing",
            "ffffffffffffffffffff\r\nab\r\n0\r\n\r\n",
        ),
        ("chunk without CRLF", "3\r\nabcX0\r\n\r\n"),
    ] {
        let mut bytes = request("GET /nosleep HTTP/1.1", "Transfer-Encoding: chunked\r\n");
        bytes.extend_from_slice(body.as_bytes());
        add(name, bytes);
    }
    corpus
}

/// Sends each corpus item except those named in `skip`, each on its own connection, then checks
/// `/nosleep`. Returns a line per failure.
pub fn failures(server: &Server, skip: &[&str]) -> Vec<String> {
    let mut failures = Vec::new();
    for (name, bytes) in malformed() {
        if skip.contains(&name.as_str()) {
            continue;
        }
        if let Err(why) = refused(server, &bytes) {
            failures.push(format!("{name}: {why}"));
        }
        match server.target().get("/nosleep", Instant::now() + PATIENCE) {
            Ok(reply) if reply.status == 200 && reply.body == "no sleep" => {}
            other => failures.push(format!("{name}: /nosleep afterwards: {other:?}")),
        }
    }
    failures
}

/// Whether the server refused `bytes` properly: a 4xx or 5xx, or a close without an answer.
fn refused(server: &Server, bytes: &[u8]) -> Result<(), String> {
    let mut stream = TcpStream::connect(server.addr()).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    // The server may answer and close before reading everything: a failed write is no failure.
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(Shutdown::Write);
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut chunk = [0; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => answer.extend_from_slice(&chunk[..read]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => {
                return Err(format!(
                    "no answer nor close after {:?} ({e})",
                    started.elapsed()
                ))
            }
        }
    }
    if answer.is_empty() {
        return Ok(()); // closed without answering
    }
    // Any `HTTP/x.y NNN` status line: tiny_http answers an HTTP/0.9 request as HTTP/0.9.
    let status = answer
        .strip_prefix(b"HTTP/")
        .and_then(|rest| rest.get(4..7))
        .and_then(|code| std::str::from_utf8(code).ok()?.parse::<u16>().ok());
    match status {
        Some(400..=599) => Ok(()),
        Some(status) => Err(format!("answered {status}")),
        None => Err(format!(
            "answered something else: {:?}",
            String::from_utf8_lossy(&answer[..answer.len().min(80)])
        )),
    }
}

/// Bytes that look random and are the same in every run.
fn pseudo_random(count: usize) -> Vec<u8> {
    let mut state: u32 = 0x2545_f491;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect()
}
