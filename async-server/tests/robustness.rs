//! `async-server` against hostile clients and load, at sizes the test suite can afford. With
//! `STRESS=1` (as `scripts/stress` runs them) the same tests use the heavy sizes: 500 stalled
//! clients, 10,000 connections at once.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use testkit::{closed_by, stress_size, Server};

const BINARY: &str = env!("CARGO_BIN_EXE_async-server");

#[test]
fn slowloris_stalls_nobody_and_is_cut_off_at_the_header_timeout() {
    let server = Server::start(BINARY, &["--header-timeout", "1"]);
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
    let reply = server.get("/nosleep");
    assert_eq!(reply.status, 200);
    assert!(
        reply.latency() < Duration::from_millis(500),
        "{:?}",
        reply.latency()
    );

    let deadline = started + Duration::from_secs(6);
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
}

#[test]
fn connections_past_the_limit_get_503_with_retry_after() {
    let server = Server::start(BINARY, &["--max-connections", "4"]);
    thread::scope(|scope| {
        let busy: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| server.get("/sleep?seconds=1")))
            .collect();
        server.wait_for_stdout_lines(|line| line.starts_with("START"), 4);
        let shed = server.get("/nosleep");
        assert_eq!(shed.status, 503, "{shed:?}");
        assert_eq!(shed.header("Retry-After"), Some("1"));
        assert!(busy
            .into_iter()
            .all(|reply| reply.join().unwrap().status == 200));
    });
    // The four connections closed, so their places are free again.
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.get("/nosleep").status != 200 {
        assert!(Instant::now() < deadline, "the limit was never released");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_with_200_sleeps_in_flight_answers_them_all_then_exits_0() {
    let mut server = Server::start(BINARY, &[]);
    let replies = thread::scope(|scope| {
        let sleepers = scope.spawn(|| testkit::all_at_once(&server, &["/sleep?seconds=1"; 200]));
        server.wait_for_stdout_lines(|line| line.starts_with("START"), 200);
        server.signal(libc::SIGTERM);
        server.wait_for_stderr(|line| line.contains("shutting down"));
        assert!(
            TcpStream::connect(server.addr()).is_err(),
            "new connections are refused"
        );
        sleepers.join().unwrap()
    });
    let complete = replies
        .iter()
        .filter(|reply| reply.status == 200 && reply.body == "sleep");
    assert_eq!(complete.count(), 200);
    assert_eq!(server.wait_for_exit().code(), Some(0));
}

#[test]
fn a_burst_of_connections_is_all_answered() {
    let server = Server::start(BINARY, &[]);
    let count = stress_size(1000, 10_000);
    // Connect them all first (the kernel completes each handshake from the listen backlog),
    // then ask on each, then read each answer.
    let mut streams: Vec<TcpStream> = (0..count)
        .map(|i| {
            TcpStream::connect(server.addr()).unwrap_or_else(|e| panic!("connection {i}: {e}"))
        })
        .collect();
    for stream in &mut streams {
        stream
            .write_all(b"GET /nosleep HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
    }
    for (i, stream) in streams.iter_mut().enumerate() {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .unwrap_or_else(|e| panic!("connection {i}: {e}"));
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "connection {i}: {answer:?}"
        );
    }
}

#[test]
fn running_out_of_file_descriptors_is_survived() {
    let server = Server::start_with_file_limit(BINARY, &[], 64);
    thread::scope(|scope| {
        // Received before the descriptors run out: it must still be answered.
        let received = scope.spawn(|| server.get("/sleep?seconds=1"));
        server.wait_for_stdout(|line| line.starts_with("START") && line.contains("/sleep"));
        let hogs: Vec<TcpStream> = (0..100)
            .map(|_| TcpStream::connect(server.addr()).unwrap())
            .collect();
        server.wait_for_stderr(|line| line.contains("accept failed"));
        drop(hogs);
        let released = Instant::now();
        loop {
            let deadline = Instant::now() + Duration::from_millis(500);
            if server
                .target()
                .get("/nosleep", deadline)
                .is_ok_and(|r| r.status == 200)
            {
                break;
            }
            assert!(
                released.elapsed() < Duration::from_secs(2),
                "not serving again"
            );
            thread::sleep(Duration::from_millis(20));
        }
        let received = received.join().unwrap();
        assert_eq!((received.status, received.body.as_str()), (200, "sleep"));
    });
}
