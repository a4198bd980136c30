//! `async-server` against the contract, and what makes it the async half of the experiment:
//! a sleeping request holds up nobody, though every request runs on the same single thread.

use std::time::Duration;

use testkit::contract::{nosleep_during_sleep, sleeps_sent_together};
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
    let (sleep, nosleep) = nosleep_during_sleep(&server, SLEEP);
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
