//! Hostile clients both servers must withstand, each a function of the server binary. Sizes
//! grow under `STRESS=1` ([`stress_size`]).

use std::io::Write;
use std::net::TcpStream;
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

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

/// With 64 file descriptors, 100 connections are opened and then closed: a request received
/// before is still answered, and the server serves again within 2 s. `ran_out` is the line the
/// server prints on stderr when it runs out, if it always prints one.
pub fn running_out_of_file_descriptors_is_survived(
    binary: &str,
    args: &[&str],
    ran_out: Option<&str>,
) {
    let _alone = one_crowd_at_a_time();
    let server = Server::start_with_file_limit(binary, args, 64);
    thread::scope(|scope| {
        let received = scope.spawn(|| server.get("/sleep?seconds=1"));
        server.wait_for_stdout(|line| line.starts_with("START") && line.contains("/sleep"));
        let hogs: Vec<TcpStream> = (0..100)
            .map(|_| TcpStream::connect(server.addr()).unwrap())
            .collect();
        match ran_out {
            Some(line) => drop(server.wait_for_stderr(|printed| printed.contains(line))),
            // Nothing to wait on (tiny_http's accept thread may die in silence): a moment, then.
            None => thread::sleep(Duration::from_millis(300)),
        }
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
