//! `async-server` against hostile clients and load, at sizes the test suite can afford. With
//! `STRESS=1` (as `scripts/stress` runs them) the same tests use the heavy sizes: 500 stalled
//! clients, 10,000 connections at once.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use testkit::{stress_size, Server};

const BINARY: &str = env!("CARGO_BIN_EXE_async-server");

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
    let _alone = testkit::hostile::one_crowd_at_a_time();
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
    let _alone = testkit::hostile::one_crowd_at_a_time();
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
fn slowloris_stalls_nobody_and_is_cut_off_at_the_header_timeout() {
    testkit::hostile::slowloris_is_cut_off_at_the_header_timeout(BINARY, true);
}

#[test]
fn running_out_of_file_descriptors_is_survived() {
    testkit::hostile::running_out_of_file_descriptors_is_survived(BINARY, &[], "accept failed");
}

#[test]
fn a_client_that_never_reads_stalls_nobody_and_is_closed() {
    // hyper stops reading a connection while its answer is unsent: next to nothing is held.
    testkit::hostile::a_client_that_never_reads_stalls_nobody_and_is_closed(BINARY, 16);
}

#[test]
fn http2_request_lines_leave_no_thread_or_descriptor_behind() {
    testkit::hostile::http2_request_lines_leave_no_thread_or_descriptor_behind(
        BINARY,
        testkit::stress_size(200, 1000),
    );
}

#[test]
fn connections_past_the_limit_are_refused_and_closed() {
    testkit::hostile::connections_past_the_limit_are_refused_and_closed(BINARY);
}

#[test]
fn the_connection_past_the_limit_is_refused_while_answers_are_unread() {
    testkit::hostile::the_connection_past_the_limit_is_refused_while_answers_are_unread(BINARY);
}
