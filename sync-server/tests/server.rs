//! `sync-server` against the contract, and what makes it the blocking half of the experiment:
//! while one request sleeps, every other request waits.

use std::time::Duration;

use testkit::contract::{nosleep_during_sleep, sleeps_sent_together};
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
    let (sleep, nosleep) = nosleep_during_sleep(&server, SLEEP);
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
fn sigterm_still_answers_the_requests_already_received() {
    let mut server = Server::start(BINARY, &["--sleep", "0", "--max-sleep", "1"]);
    let (running, queued_quick, queued_long) = std::thread::scope(|scope| {
        let running = scope.spawn(|| server.get("/sleep?seconds=0.6"));
        server.wait_for_stdout(|line| line.starts_with("START") && line.contains("/sleep"));
        let queued_quick = scope.spawn(|| server.get("/nosleep"));
        let queued_long = scope.spawn(|| server.get("/sleep?seconds=1"));
        // tiny_http does not tell how many requests it has queued; give its reader threads a
        // moment to take both from their sockets before the listener is shut.
        std::thread::sleep(Duration::from_millis(200));
        server.signal(libc::SIGTERM);
        (
            running.join().unwrap(),
            queued_quick.join().unwrap(),
            queued_long.join().unwrap(),
        )
    });
    assert_eq!((running.status, running.body.as_str()), (200, "sleep"));
    assert_eq!(
        (queued_quick.status, queued_quick.body.as_str()),
        (200, "no sleep")
    );
    // Its full sleep would run past the 1 s grace period, so it is refused, not cut short.
    assert_eq!(queued_long.status, 503, "{queued_long:?}");
    assert_eq!(server.wait_for_exit().code(), Some(0));
}
