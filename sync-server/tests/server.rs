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
