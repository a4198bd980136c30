//! `async-server` against the contract, and what makes it the async half of the experiment:
//! a sleeping request holds up nobody, though every request runs on the same single thread.

use std::thread;
use std::time::Duration;

use testkit::contract::{nosleep_during, sleeps_sent_together, Queue};
use testkit::Server;

const BINARY: &str = env!("CARGO_BIN_EXE_async-server");

testkit::contract_tests!(BINARY);

/// The sleep the timing tests ask for, in seconds: short, but far above scheduling noise.
const SLEEP: f64 = 0.6;

fn seconds(value: f64) -> Duration {
    Duration::from_secs_f64(value)
}

#[test]
fn a_nosleep_sent_during_a_sleep_is_answered_at_once() {
    let server = Server::start(BINARY, &[]);
    let (sleep, nosleep) = nosleep_during(&server, &format!("/sleep?seconds={SLEEP}"));
    assert_eq!((sleep.status, nosleep.status), (200, 200));
    assert!(
        nosleep.latency() < seconds(SLEEP / 4.0),
        "{:?}",
        nosleep.latency()
    );
    assert!(nosleep.answered_at < sleep.answered_at);
    assert!(
        sleep.latency() >= seconds(SLEEP * 0.95),
        "{:?}",
        sleep.latency()
    );
    assert_eq!((sleep.pid(), sleep.tid()), (nosleep.pid(), nosleep.tid()));
}

#[test]
fn sleeps_sent_together_take_about_one() {
    let server = Server::start(BINARY, &[]);
    for count in [2, 10] {
        let (replies, wall) = sleeps_sent_together(&server, count, SLEEP);
        assert!(replies.iter().all(|reply| reply.status == 200));
        assert!(wall >= seconds(SLEEP * 0.95), "{count}: {wall:?}");
        assert!(wall < seconds(SLEEP * 1.5), "{count} sleeps took {wall:?}");
        let tid = replies[0].tid();
        assert!(
            replies.iter().all(|reply| reply.tid() == tid),
            "all on one thread"
        );
    }
}

fn is_thread_of(pid: u32, tid: u64) -> bool {
    std::path::Path::new(&format!("/proc/{pid}/task/{tid}")).exists()
}

#[test]
fn block_stalls_every_other_request_on_the_runtime() {
    let server = Server::start(BINARY, &[]);
    let block = format!("/block?seconds={SLEEP}");
    let (blocked, nosleep) = nosleep_during(&server, &block);
    assert_eq!((blocked.status, blocked.body.as_str()), (200, "block"));
    assert_eq!(nosleep.status, 200);
    assert!(
        nosleep.latency() >= seconds(SLEEP * 0.5),
        "{:?}",
        nosleep.latency()
    );
    assert!(nosleep.answered_at >= blocked.sent_at + seconds(SLEEP * 0.9));
    // The log shows it: the /nosleep starts only once the /block is done.
    let lines = server.wait_for_stdout_lines(|line| line.contains(" PID "), 4);
    let position = |tag: &str, path: &str| {
        let found = lines
            .iter()
            .position(|line| line.text.starts_with(tag) && line.text.contains(path));
        found.unwrap_or_else(|| panic!("no {tag} {path} in {lines:?}"))
    };
    assert!(
        position("DONE", "/block") < position("START", "/nosleep"),
        "{lines:?}"
    );
}

#[test]
fn offload_stalls_nothing_and_names_the_thread_that_did_the_work() {
    let server = Server::start(BINARY, &[]);
    let offload = format!("/offload?seconds={SLEEP}");
    let (offloaded, nosleep) = nosleep_during(&server, &offload);
    assert_eq!(
        (offloaded.status, offloaded.body.as_str()),
        (200, "offload")
    );
    assert!(
        nosleep.latency() < seconds(SLEEP / 4.0),
        "{:?}",
        nosleep.latency()
    );
    assert!(offloaded.latency() >= seconds(SLEEP * 0.95));

    let runtime = offloaded.tid().unwrap();
    let worker: u64 = offloaded
        .header("X-Work-Tid")
        .expect("X-Work-Tid")
        .parse()
        .unwrap();
    assert_eq!(
        nosleep.tid(),
        Some(runtime),
        "the handler ran on the runtime thread"
    );
    assert_ne!(worker, runtime, "the blocking work ran elsewhere");
    assert!(
        is_thread_of(server.pid(), worker),
        "the pool thread is one of ours"
    );
    let done = server.wait_for_stdout(|line| line.starts_with("DONE") && line.contains("/offload"));
    assert!(
        done.text.ends_with(&format!("(work on TID {worker})")),
        "{}",
        done.text
    );
}

#[test]
fn workers_spread_connections_over_several_threads_of_one_process() {
    let server = Server::start(BINARY, &["--workers", "4"]);
    let (replies, wall) = sleeps_sent_together(&server, 40, 0.3);
    assert!(replies.iter().all(|reply| reply.status == 200));
    assert!(wall < seconds(0.3 * 1.5), "{wall:?}");
    let tids: std::collections::BTreeSet<_> = replies.iter().map(|r| r.tid().unwrap()).collect();
    // The kernel spreads connections over the four sockets by a hash of their addresses: forty
    // all missing one of four workers would happen about once in a hundred thousand runs.
    assert_eq!(tids.len(), 4, "40 connections over the workers: {tids:?}");
    assert!(replies
        .iter()
        .all(|reply| reply.pid() == Some(server.pid())));
    assert!(tids.iter().all(|&tid| is_thread_of(server.pid(), tid)));
}

#[test]
fn a_worker_blocked_stalls_only_its_own_connections() {
    // With several workers, /block holds up its own runtime; the others keep answering.
    let server = Server::start(BINARY, &["--workers", "4"]);
    let (blocked, nosleeps) = std::thread::scope(|scope| {
        let blocked = scope.spawn(|| server.get(&format!("/block?seconds={SLEEP}")));
        server.wait_for_stdout(|line| line.starts_with("START") && line.contains("/block"));
        let nosleeps = testkit::all_at_once(&server, &["/nosleep"; 40]);
        (blocked.join().unwrap(), nosleeps)
    });
    let blocked_tid = blocked.tid().unwrap();
    // The kernel spreads the connections over the four workers by a hash of their addresses:
    // forty all missing the blocked worker would happen about once in a hundred thousand runs.
    let (stalled, others): (Vec<_>, Vec<_>) = nosleeps
        .iter()
        .partition(|reply| reply.tid() == Some(blocked_tid));
    assert!(!stalled.is_empty() && !others.is_empty(), "{nosleeps:?}");
    for reply in &stalled {
        assert!(
            reply.answered_at >= blocked.answered_at - Duration::from_millis(50),
            "a /nosleep on the blocked worker was answered during the block"
        );
    }
    for reply in &others {
        assert!(
            reply.latency() < seconds(SLEEP / 4.0),
            "a /nosleep on another worker waited {:?}",
            reply.latency()
        );
    }
}

#[test]
fn workers_stop_together_on_sigterm() {
    let mut server = Server::start(BINARY, &["--workers", "3"]);
    let replies = std::thread::scope(|scope| {
        let sleepers = scope.spawn(|| sleeps_sent_together(&server, 6, SLEEP).0);
        server.wait_for_stdout_lines(|line| line.starts_with("START"), 6);
        server.signal(libc::SIGTERM);
        sleepers.join().unwrap()
    });
    assert!(replies
        .iter()
        .all(|reply| reply.status == 200 && reply.body == "sleep"));
    assert_eq!(server.wait_for_exit().code(), Some(0));
}

#[test]
fn a_bad_worker_count_exits_2() {
    for count in ["0", "1025", "x"] {
        let output = testkit::run(BINARY, &["--workers", count]);
        assert_eq!(output.status.code(), Some(2), "--workers {count}");
        assert_eq!(String::from_utf8_lossy(&output.stderr).lines().count(), 1);
    }
}

#[test]
fn malformed_requests_are_refused_and_the_server_keeps_serving() {
    let server = Server::start(BINARY, &["--header-timeout", "2"]);
    let failures = testkit::corpus::failures(&server, &[]);
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn a_held_runtime_is_reported_while_held_naming_the_request_then_in_full() {
    let server = Server::start(BINARY, &["--warn-blocked", "100"]);
    let (block, _) = nosleep_during(&server, "/compute?seconds=0.6");
    assert_eq!(block.status, 200);
    let tid = block.tid().unwrap();
    let head = format!(
        "BLOCKED PID {} TID {tid} GET /compute?seconds=0.6: ",
        server.pid()
    );
    let live = server.wait_for_stdout(|line| line.contains("holds the runtime thread"));
    let whole = server.wait_for_stdout(|line| line.contains("held the runtime thread for"));
    let done = server.wait_for_stdout(|line| line.starts_with("DONE") && line.contains("/compute"));
    assert!(live.text.starts_with(&head), "{}", live.text);
    assert!(whole.text.starts_with(&head), "{}", whole.text);
    // Written by another thread while the runtime thread computed: before the request was done.
    assert!(
        live.at < done.at,
        "the BLOCKED line came after the DONE line"
    );
    let held = |line: &str| {
        let figure = line.rsplit("for ").next().unwrap();
        let (number, unit) = figure.trim_end_matches(" so far").split_once(' ').unwrap();
        let number: f64 = number.parse().unwrap();
        seconds(if unit == "ms" {
            number / 1000.0
        } else {
            number
        })
    };
    let so_far = held(&live.text);
    assert!(
        so_far >= seconds(0.1) && so_far < seconds(0.5),
        "{}",
        live.text
    );
    let in_all = held(&whole.text);
    assert!(
        in_all >= seconds(0.55) && in_all < seconds(1.0),
        "{}",
        whole.text
    );
}

#[test]
fn a_burst_of_quick_requests_is_not_reported_and_zero_turns_the_report_off() {
    let server = Server::start(BINARY, &[]);
    for _ in 0..5 {
        let targets = vec!["/nosleep"; 100];
        let replies = testkit::all_at_once(&server, &targets);
        assert!(replies.iter().all(|reply| reply.status == 200));
    }
    server.get("/block?seconds=0.3"); // the one that is reported
    let line = server.wait_for_stdout(|line| line.starts_with("BLOCKED"));
    assert!(line.text.contains("/block?seconds=0.3"), "{}", line.text);
    let blocked = server.stdout_lines();
    let blocked: Vec<_> = blocked
        .iter()
        .filter(|l| l.starts_with("BLOCKED"))
        .collect();
    assert!(
        blocked.iter().all(|line| line.contains("/block")),
        "quick requests reported: {blocked:?}"
    );

    let quiet = Server::start(BINARY, &["--warn-blocked", "0"]);
    quiet.get("/block?seconds=0.4");
    quiet.get("/nosleep");
    // Waiting for a line that must not come: a report comes within a heartbeat (25 ms) of the
    // thread's release, so eight heartbeats is ample.
    thread::sleep(Duration::from_millis(200));
    let lines = quiet.stdout_lines();
    assert!(
        !lines.iter().any(|line| line.starts_with("BLOCKED")),
        "{lines:?}"
    );
}

#[test]
fn offloaded_work_queues_for_a_bounded_pool_like_threads() {
    let rounds = |pool: &str| {
        let server = Server::start(BINARY, &["--blocking-threads", pool]);
        let targets = vec!["/offload?seconds=0.4"; 4];
        let started = std::time::Instant::now();
        let replies = testkit::all_at_once(&server, &targets);
        assert!(replies.iter().all(|reply| reply.status == 200));
        let workers: std::collections::BTreeSet<_> = replies
            .iter()
            .map(|r| r.header("X-Work-Tid").unwrap().to_owned())
            .collect();
        (started.elapsed(), workers.len())
    };
    let (two, used) = rounds("2");
    assert!(
        two >= seconds(0.75) && two < seconds(1.4),
        "4 sleeps on 2 pool threads: {two:?}"
    );
    assert!(used <= 2, "{used} pool threads");
    let (four, used) = rounds("4");
    assert!(four < seconds(0.75), "4 sleeps on 4 pool threads: {four:?}");
    assert_eq!(used, 4);
}

#[test]
fn offload_refuses_an_unknown_work() {
    let server = Server::start(BINARY, &[]);
    let refused = server.get("/offload?work=dance");
    assert_eq!(refused.status, 400);
    assert!(
        refused
            .body
            .contains("expected work=sleep, work=compute or work=query"),
        "{}",
        refused.body
    );
    let computed = server.get("/offload?seconds=0.2&work=compute");
    assert_eq!((computed.status, computed.body.as_str()), (200, "offload"));
}

/// async-server's queue: work waiting for the one thread of its blocking pool, held by an
/// `/offload` of a second.
const QUEUE: Queue = Queue {
    flags: &["--blocking-threads", "1"],
    holder: "/offload?seconds=1",
    queued: "/offload?seconds=0.05",
    starts_before_the_queue: true,
};

#[test]
fn a_queued_request_past_the_deadline_is_shed_unrun() {
    testkit::contract::a_queued_request_past_the_deadline_is_shed_unrun(BINARY, &QUEUE);
}

#[test]
fn a_queued_request_whose_client_hung_up_is_not_run() {
    testkit::contract::a_queued_request_whose_client_hung_up_is_not_run(BINARY, &QUEUE);
}
