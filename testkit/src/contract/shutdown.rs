//! Shutdown: signals, and the grace period.

use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use crate::Server;

pub fn sigterm_during_a_sleep_still_answers_it_then_exits_0(binary: &str) {
    let mut server = Server::start(binary, &[]);
    let reply = thread::scope(|scope| {
        let sleeper = scope.spawn(|| server.get("/sleep?seconds=1"));
        server.wait_for_stdout(|line| line.starts_with("START") && line.contains("/sleep"));
        server.signal(libc::SIGTERM);
        server.wait_for_stderr(|line| line.contains("shutting down"));
        assert!(
            TcpStream::connect(server.addr()).is_err(),
            "a new connection is refused once shutting down"
        );
        sleeper.join().unwrap()
    });
    assert_eq!((reply.status, reply.body.as_str()), (200, "sleep"));
    assert!(reply.latency() >= Duration::from_millis(900), "{reply:?}");
    let status = server.wait_for_exit();
    assert_eq!(status.code(), Some(0), "{status:?}");
}

pub fn sigint_exits_0(binary: &str) {
    let mut server = Server::start(binary, &[]);
    assert_eq!(server.get("/nosleep").status, 200);
    server.signal(libc::SIGINT);
    let status = server.wait_for_exit();
    assert_eq!(status.code(), Some(0), "{status:?}");
}

pub fn shutdown_waits_for_a_stalled_client_no_longer_than_the_grace_period(binary: &str) {
    let mut server = Server::start(binary, &["--sleep", "0", "--max-sleep", "0.5"]);
    let mut stalled = TcpStream::connect(server.addr()).unwrap();
    stalled
        .write_all(b"GET /nosleep HTTP/1.1\r\nHost: x\r\n")
        .unwrap(); // never finished
                   // Served after the stalled connection was accepted: connections are accepted in order.
    assert_eq!(server.get("/nosleep").status, 200);
    let signalled = Instant::now();
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_for_exit().code(), Some(0));
    // 0.5 s of grace plus at most a second to let answers out (async-server's), far below the
    // 10 s a client has to send its request head.
    let took = signalled.elapsed();
    assert!(took < Duration::from_millis(2000), "exit took {took:?}");
}
