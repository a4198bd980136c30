//! Hostile clients both servers must withstand, each a function of the server binary. Sizes
//! grow under `STRESS=1` ([`stress_size`]).

use std::io::Write;
use std::net::TcpStream;
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use crate::contract::exchange;
use crate::{closed_by, stress_size, Server};

/// Held by each test here, so that the tests of one binary that open crowds of connections
/// run one at a time: each is a load on the machine, and a loaded machine is what makes
/// tiny_http's pool queue connections behind stalled ones.
static ONE_CROWD_AT_A_TIME: Mutex<()> = Mutex::new(());

pub fn one_crowd_at_a_time() -> MutexGuard<'static, ()> {
    ONE_CROWD_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Many connections send half a request and stall: each is closed after `--header-timeout`,
/// and `/nosleep` is answered at once: during the attack if `prompt_during_attack`, else (for
/// tiny_http, whose thread pool can queue a new connection behind the stalled ones on a busy
/// machine) as soon as the stalled connections are cut off.
pub fn slowloris_is_cut_off_at_the_header_timeout(binary: &str, prompt_during_attack: bool) {
    let _alone = one_crowd_at_a_time();
    let server = Server::start(binary, &["--header-timeout", "1"]);
    let started = Instant::now();
    let mut stalled: Vec<TcpStream> = (0..stress_size(100, 500))
        .map(|_| {
            let mut stream = TcpStream::connect(server.addr()).unwrap();
            stream
                .write_all(b"GET /nosleep HTTP/1.1\r\nHost: x\r\n")
                .unwrap(); // and no more
            stream
        })
        .collect();
    let prompt = |reply: crate::Reply| {
        assert_eq!(reply.status, 200);
        assert!(
            reply.latency() < Duration::from_millis(500),
            "{:?}",
            reply.latency()
        );
    };
    if prompt_during_attack {
        prompt(server.get("/nosleep"));
    }

    // tiny_http may take the stalled connections a few at a time, a header timeout each.
    let deadline = started + Duration::from_secs(if prompt_during_attack { 10 } else { 60 });
    let open = stalled
        .iter_mut()
        .map(|stream| closed_by(stream, deadline))
        .filter(|closed| !closed)
        .count();
    assert_eq!(
        open, 0,
        "stalled connections still open after the header timeout"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed before the timeout"
    );
    prompt(server.get("/nosleep"));
}

/// With 64 file descriptors, 100 connections are opened, until the server says on stderr that it
/// ran out (`ran_out`, part of its line), and then closed: a request received before is still
/// answered, and the server serves again within 2 s.
pub fn running_out_of_file_descriptors_is_survived(binary: &str, args: &[&str], ran_out: &str) {
    let _alone = one_crowd_at_a_time();
    let server = Server::start_with_file_limit(binary, args, 64);
    thread::scope(|scope| {
        let received = scope.spawn(|| server.get("/sleep?seconds=1"));
        server.wait_for_stdout(|line| line.starts_with("START") && line.contains("/sleep"));
        let hogs: Vec<TcpStream> = (0..100)
            .map(|_| TcpStream::connect(server.addr()).unwrap())
            .collect();
        server.wait_for_stderr(|printed| printed.contains(ran_out));
        drop(hogs);
        crate::retry_until_served(&server, "/nosleep", Duration::from_secs(2));
        let received = received.join().unwrap();
        assert_eq!((received.status, received.body.as_str()), (200, "sleep"));
    });
}

/// A client pipelines requests on one connection as fast as it can and never reads an answer:
/// meanwhile every other client is answered within half a second, the server's memory grows by
/// less than `max_growth_mib`, and that client's connection is closed within `--header-timeout`
/// of its answers stalling (here 1 s, with a generous margin).
pub fn a_client_that_never_reads_stalls_nobody_and_is_closed(binary: &str, max_growth_mib: u64) {
    let _alone = one_crowd_at_a_time();
    let server = Server::start(binary, &["--header-timeout", "1"]);
    let before = probe::process::rss_kib(server.pid());
    let mut reader = TcpStream::connect(server.addr()).unwrap();
    reader.set_nonblocking(true).unwrap();
    let requests = b"GET /nosleep HTTP/1.1\r\nHost: x\r\n\r\n".repeat(100);
    let started = Instant::now();
    let attack = Duration::from_secs(stress_size(6, 15) as u64);
    let mut next_check = started + Duration::from_millis(300);
    let mut checks = 0;
    let mut closed = None;
    while started.elapsed() < attack {
        match reader.write(&requests) {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(1));
            }
            Err(_) => {
                closed = Some(started.elapsed());
                break;
            }
        }
        if Instant::now() >= next_check {
            let reply = server.get("/nosleep");
            assert_eq!(reply.status, 200);
            assert!(
                reply.latency() < Duration::from_millis(500),
                "another client waited {:?} while one never read",
                reply.latency()
            );
            checks += 1;
            next_check = Instant::now() + Duration::from_millis(300);
        }
    }
    let growth_mib = probe::process::rss_kib(server.pid()).saturating_sub(before) / 1024;
    let closed = closed.unwrap_or_else(|| panic!("still open after {attack:?} of never reading"));
    eprintln!(
        "the reader was closed after {closed:?}; the server's memory grew by {growth_mib} MiB"
    );
    assert!(
        checks >= 1 || closed < Duration::from_millis(300),
        "never checked"
    );
    assert!(
        growth_mib < max_growth_mib,
        "memory grew by {growth_mib} MiB"
    );
    let reply = server.get("/nosleep");
    assert_eq!(reply.status, 200, "serving after the reader was closed");
}

/// The threads and open descriptors of process `pid`.
pub fn threads_and_descriptors(pid: u32) -> (usize, usize) {
    let threads = probe::process::threads(pid) as usize;
    (threads, probe::process::descriptors(pid))
}

/// What `curl --http2-prior-knowledge` sends first: HTTP/2's connection preface and an empty
/// SETTINGS frame.
const HTTP2_PREFACE: &[u8] =
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// `count` clients each send HTTP/2's preface, wait a moment for an answer, and hang up: within
/// `--header-timeout` (1 s here) and a margin, the server's threads and descriptors are back
/// where they were (give or take a few idle pool threads).
pub fn http2_request_lines_leave_no_thread_or_descriptor_behind(binary: &str, count: usize) {
    let _alone = one_crowd_at_a_time();
    let server = Server::start(binary, &["--header-timeout", "1"]);
    assert_eq!(server.get("/nosleep").status, 200);
    // The baseline, once that request's connection is gone: the same counts twice in a row.
    let settled = Instant::now() + Duration::from_secs(2);
    let mut baseline = threads_and_descriptors(server.pid());
    loop {
        thread::sleep(Duration::from_millis(50));
        let now = threads_and_descriptors(server.pid());
        if now == baseline || Instant::now() > settled {
            break;
        }
        baseline = now;
    }
    let (threads, descriptors) = baseline;
    for _ in 0..count {
        let mut client = TcpStream::connect(server.addr()).unwrap();
        client.write_all(HTTP2_PREFACE).unwrap();
        client
            .set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        let _ = std::io::Read::read(&mut client, &mut [0; 256]);
    }
    let deadline = Instant::now() + Duration::from_secs(8);
    let left = loop {
        let now = threads_and_descriptors(server.pid());
        if now.0 <= threads + 8 && now.1 <= descriptors + 2 || Instant::now() > deadline {
            break now;
        }
        thread::sleep(Duration::from_millis(100));
    };
    assert!(
        left.0 <= threads + 8 && left.1 <= descriptors + 2,
        "after {count} HTTP/2 prefaces: {} threads (from {threads}), {} descriptors (from \
         {descriptors})",
        left.0,
        left.1
    );
    assert_eq!(server.get("/nosleep").status, 200);
}

/// Past `--max-connections`, a new connection has its request answered `503` with
/// `Retry-After` and `Connection: close`, and is closed, however many come, while the connections
/// within the limit, idle between their requests, are still served; once one of them closes, a
/// new connection is served again.
pub fn connections_past_the_limit_are_refused_and_closed(binary: &str) {
    let server = Server::start(binary, &["--max-connections", "3"]);
    let ask = "GET /nosleep HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut kept: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut stream = TcpStream::connect(server.addr()).unwrap();
            let (head, closed) = exchange(&mut stream, ask);
            assert!(head.status == 200 && !closed, "{}", head.text);
            stream
        })
        .collect();

    let mut past = TcpStream::connect(server.addr()).unwrap();
    let (head, closed) = exchange(&mut past, ask);
    assert_eq!(head.status, 503, "{}", head.text);
    assert_eq!(head.field("retry-after").as_deref(), Some("1"));
    assert_eq!(head.field("connection").as_deref(), Some("close"));
    assert!(closed, "the connection past the limit is closed");
    // However many come, each is refused, and the kept connections are still answered at once.
    for _ in 0..stress_size(50, 2000) {
        assert_eq!(server.get("/nosleep").status, 503);
    }

    for stream in &mut kept {
        let sent = Instant::now();
        let (head, closed) = exchange(stream, ask);
        assert!(head.status == 200 && !closed, "{}", head.text);
        // exchange waits 300 ms to see whether the server closes; a prompt answer adds little.
        assert!(
            sent.elapsed() < Duration::from_millis(800),
            "{:?}",
            sent.elapsed()
        );
    }
    drop(kept.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.get("/nosleep").status != 200 {
        assert!(
            Instant::now() < deadline,
            "the place of the closed connection was never taken again"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// `--max-connections 50`: fifty connections each send a request and read nothing yet, and a
/// fifty-first, a moment later (20 ms: more than the kernel's clock tick, which is how finely
/// sync-server can tell who asked first), sends one too: the fifty-first is refused `503`, and
/// each of the fifty is answered `200`, whatever order the server took their requests in. Three
/// fresh servers, on which first requests are handed over in the most scrambled order.
pub fn the_connection_past_the_limit_is_refused_while_answers_are_unread(binary: &str) {
    let ask = b"GET /nosleep HTTP/1.1\r\nHost: x\r\n\r\n";
    for _ in 0..3 {
        let server = Server::start(binary, &["--max-connections", "50"]);
        let kept: Vec<TcpStream> = (0..50)
            .map(|_| {
                let mut stream = TcpStream::connect(server.addr()).unwrap();
                stream.write_all(ask).unwrap();
                stream
            })
            .collect();
        thread::sleep(Duration::from_millis(20));
        let mut past = TcpStream::connect(server.addr()).unwrap();
        past.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        past.write_all(ask).unwrap();
        let (head, _) = crate::wire::read_answer(&mut past);
        assert_eq!(head.status, 503, "the 51st connection: {}", head.text);
        for (number, mut stream) in kept.into_iter().enumerate() {
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let (head, _) = crate::wire::read_answer(&mut stream);
            assert_eq!(head.status, 200, "connection {}: {}", number + 1, head.text);
        }
    }
}
