//! `sync-server` against the contract, and what makes it the blocking half of the experiment:
//! while one request sleeps, every other request waits.

use std::time::Duration;

use testkit::contract::{nosleep_during, sleeps_sent_together, Queue};
use testkit::Server;

const BINARY: &str = env!("CARGO_BIN_EXE_sync-server");

testkit::contract_tests!(BINARY);

/// The sleep the timing tests ask for, in seconds: short, but far above scheduling noise.
const SLEEP: f64 = 0.6;

fn seconds(value: f64) -> Duration {
    Duration::from_secs_f64(value)
}

#[test]
fn a_nosleep_sent_during_a_sleep_is_answered_only_after_it() {
    let server = Server::start(BINARY, &[]);
    let (sleep, nosleep) = nosleep_during(&server, &format!("/sleep?seconds={SLEEP}"));
    assert_eq!((sleep.status, nosleep.status), (200, 200));
    assert!(
        nosleep.answered_at >= sleep.sent_at + seconds(SLEEP * 0.9),
        "answered {:?} into a {SLEEP} s sleep",
        nosleep.answered_at - sleep.sent_at
    );
    assert!(
        nosleep.latency() >= seconds(SLEEP * 0.5),
        "{:?}",
        nosleep.latency()
    );
}

#[test]
fn two_sleeps_sent_together_take_about_twice_one() {
    let server = Server::start(BINARY, &[]);
    let (replies, wall) = sleeps_sent_together(&server, 2, SLEEP);
    assert!(replies.iter().all(|reply| reply.status == 200));
    assert!(wall >= seconds(2.0 * SLEEP * 0.95), "{wall:?}");
    assert!(wall < seconds(2.0 * SLEEP + 1.5), "{wall:?}");
}

#[test]
fn every_idle_handler_thread_wakes_at_a_signal_with_no_timer_to_look() {
    // Idle handler threads wait for requests with no timer: the signal wakes each of them, and
    // one busy a moment before must not take another's wake-up and leave it waiting for good.
    let mut server = Server::start(BINARY, &["--threads", "16"]);
    let targets = vec!["/nosleep"; 64];
    let replies = testkit::all_at_once(&server, &targets);
    assert!(replies.iter().all(|reply| reply.status == 200));
    let signalled = std::time::Instant::now();
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_for_exit().code(), Some(0));
    let took = signalled.elapsed();
    assert!(took < seconds(2.0), "{took:?} to stop 16 idle threads");
}

#[test]
fn sigterm_still_answers_the_requests_already_received() {
    let mut server = Server::start(BINARY, &["--sleep", "0", "--max-sleep", "1"]);
    let ask = |target: &str| {
        let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
        let request = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    };
    let running = std::thread::scope(|scope| {
        let running = scope.spawn(|| server.get("/sleep?seconds=0.6"));
        server.wait_for_stdout(|line| line.starts_with("START") && line.contains("/sleep"));
        let queued = [ask("/nosleep"), ask("/sleep?seconds=1")];
        // tiny_http does not tell how many requests it has queued: wait until its reader
        // threads have taken all three from their sockets before the listener is shut.
        testkit::wait_until_read(&server, 3);
        server.signal(libc::SIGTERM);
        (running.join().unwrap(), queued)
    });
    let (running, [mut queued_quick, mut queued_long]) = running;
    assert_eq!((running.status, running.body.as_str()), (200, "sleep"));
    let (quick, body) = testkit::wire::read_answer(&mut queued_quick);
    assert_eq!((quick.status, body.as_slice()), (200, &b"no sleep"[..]));
    // Its full sleep would run past the 1 s grace period, so it is refused, not cut short.
    let (long, _) = testkit::wire::read_answer(&mut queued_long);
    assert_eq!(long.status, 503, "{}", long.text);
    assert_eq!(server.wait_for_exit().code(), Some(0));
}

#[test]
fn threads_let_that_many_sleeps_run_at_once_on_distinct_threads() {
    let server = Server::start(BINARY, &["--threads", "4"]);
    let (replies, wall) = sleeps_sent_together(&server, 4, SLEEP);
    assert!(replies.iter().all(|reply| reply.status == 200));
    assert!(
        wall < seconds(SLEEP * 1.5),
        "4 sleeps on 4 threads took {wall:?}"
    );
    let tids: std::collections::BTreeSet<_> = replies.iter().map(|r| r.tid().unwrap()).collect();
    assert_eq!(tids.len(), 4, "one handler thread each: {tids:?}");
    for tid in &tids {
        let task = format!("/proc/{}/task/{tid}", server.pid());
        assert!(std::path::Path::new(&task).exists(), "{task}");
    }
    // The log says the same.
    let starts = server.wait_for_stdout_lines(|line| line.starts_with("START"), 4);
    let logged: std::collections::BTreeSet<_> = starts
        .iter()
        .filter_map(|line| testkit::start_ids(&line.text).map(|(_, tid)| tid))
        .collect();
    assert_eq!(logged, tids);
}

#[test]
fn more_sleeps_than_threads_queue_for_a_free_one() {
    let server = Server::start(BINARY, &["--threads", "2"]);
    let (_, wall) = sleeps_sent_together(&server, 4, SLEEP);
    // Two rounds of two; three rounds or more would mean fewer than two threads at once.
    assert!(wall >= seconds(2.0 * SLEEP * 0.95), "{wall:?}");
    assert!(wall < seconds(3.0 * SLEEP), "{wall:?}");
}

#[test]
fn a_sync_server_has_no_block_or_offload() {
    let server = Server::start(BINARY, &[]);
    for target in ["/block", "/offload", "/block?seconds=1"] {
        assert_eq!(server.get(target).status, 404, "{target}");
    }
}

#[test]
fn a_bad_thread_count_exits_2() {
    for count in ["0", "100001", "-1", "two"] {
        let output = testkit::run(BINARY, &["--threads", count]);
        assert_eq!(output.status.code(), Some(2), "--threads {count}");
        assert_eq!(String::from_utf8_lossy(&output.stderr).lines().count(), 1);
    }
}

#[test]
fn thousands_of_handler_threads_start_and_answer_at_once_each_on_its_own() {
    let server = Server::start(BINARY, &["--threads", "2000"]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    let threads: usize = status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|count| count.trim().parse().ok())
        .unwrap();
    assert!(threads >= 2000, "{threads} threads");
    let (replies, wall) = sleeps_sent_together(&server, 200, SLEEP);
    assert!(replies.iter().all(|reply| reply.status == 200));
    // One round: 200 sleeps at once, each on a handler thread of its own.
    assert!(
        wall < seconds(SLEEP * 1.9),
        "200 sleeps on 2000 threads took {wall:?}"
    );
    let tids: std::collections::BTreeSet<_> = replies.iter().map(|r| r.tid().unwrap()).collect();
    assert_eq!(
        tids.len(),
        200,
        "200 sleeps at once on {} threads",
        tids.len()
    );
}

#[test]
fn a_thread_count_the_system_refuses_is_one_clear_line_naming_the_limits() {
    // A user allowed 300 processes and threads: the system refuses a thread part of the way. Root
    // is not held to that limit, so as root the server runs as a user id nobody has.
    let limited = [
        "--nproc=300",
        "--",
        BINARY,
        "--port",
        "0",
        "--threads",
        "2000",
    ];
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mut command = std::process::Command::new(if root { "setpriv" } else { "prlimit" });
    if root {
        command.args([
            "--reuid=54321",
            "--regid=54321",
            "--clear-groups",
            "prlimit",
        ]);
    }
    let output = command.args(limited).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot start handler thread"), "{stderr}");
    assert!(stderr.contains("of 2000"), "{stderr}");
    assert!(
        stderr.contains("300 processes and threads per user (ulimit -u)"),
        "{stderr}"
    );
    assert!(stderr.contains("threads-max"), "{stderr}");
    assert!(
        output.stdout.is_empty(),
        "said it listened: {:?}",
        output.stdout
    );
}

/// What tiny_http 0.12 gets wrong where no handler can see it (README, Robustness): it deadlocks
/// a connection thread on an HTTP/2 request line, and it drops a request line's extra words.
const TINY_HTTP_GAPS: [&str; 3] = ["HTTP/2 preface", "version 2.0", "extra word"];

#[test]
fn malformed_requests_are_refused_and_the_server_keeps_serving() {
    let server = Server::start(BINARY, &[]);
    let failures = testkit::corpus::failures(&server, &TINY_HTTP_GAPS);
    assert!(failures.is_empty(), "{failures:#?}");
}

/// sync-server's queue: requests waiting for its one handler thread, held by a sleep.
const QUEUE: Queue = Queue {
    flags: &[],
    holder: "/sleep?seconds=1",
    queued: "/nosleep",
    starts_before_the_queue: false,
};

#[test]
fn a_queued_request_past_the_deadline_is_shed_unrun() {
    testkit::contract::a_queued_request_past_the_deadline_is_shed_unrun(BINARY, &QUEUE);
}

#[test]
fn a_queued_request_whose_client_hung_up_is_not_run() {
    testkit::contract::a_queued_request_whose_client_hung_up_is_not_run(BINARY, &QUEUE);
}
