//! `/fetch` on async-server, against a real upstream per test: every call at once with
//! hyper-util's client, awaited together on the one runtime thread.

use std::time::Duration;

use testkit::contract::nosleep_during;
use testkit::upstream::{fetch_took, server_with_upstream};

const BINARY: &str = env!("CARGO_BIN_EXE_async-server");

testkit::upstream_tests!(BINARY);

#[test]
fn calls_are_made_at_once_on_the_one_thread() {
    let (_upstream, server) = server_with_upstream(BINARY, &[]);
    let idle = probe::process::threads(server.pid());
    let (fetch, nosleep) = nosleep_during(&server, "/fetch?seconds=0.4&count=3");
    assert_eq!(fetch.status, 200, "{fetch:?}");
    let took = fetch_took(&fetch);
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert!(
        took < Duration::from_millis(800),
        "the longest, not the sum: {took:?}"
    );
    assert!(
        nosleep.latency() < Duration::from_millis(100),
        "{nosleep:?}"
    );
    assert!(nosleep.answered_at < fetch.answered_at, "{nosleep:?}");
    assert_eq!(fetch.header("X-Tid"), nosleep.header("X-Tid"), "one thread");
    assert_eq!(
        probe::process::threads(server.pid()),
        idle,
        "no thread per call"
    );
}
