//! `/fetch` on sync-server, against a real upstream per test: the blocking client on the
//! handler thread, one call after another, or a scoped thread per call (`via=threads`).

use std::time::Duration;

use testkit::contract::nosleep_during;
use testkit::upstream::{fetch_took, server_with_upstream};

const BINARY: &str = env!("CARGO_BIN_EXE_sync-server");

testkit::upstream_tests!(BINARY);

#[test]
fn calls_on_the_handler_thread_take_turns_and_on_threads_take_the_longest() {
    let (_upstream, server) = server_with_upstream(BINARY, &[]);
    let one_after_another = server.get("/fetch?seconds=0.3&count=3");
    assert_eq!(one_after_another.status, 200, "{one_after_another:?}");
    let took = fetch_took(&one_after_another);
    assert!(took >= Duration::from_millis(900), "{took:?}");
    let idle = probe::process::threads(server.pid());
    let (on_threads, most) = testkit::most_while(
        || server.get("/fetch?seconds=0.3&count=3&via=threads"),
        || probe::process::threads(server.pid()),
    );
    assert_eq!(on_threads.status, 200, "{on_threads:?}");
    let took_on_threads = fetch_took(&on_threads);
    assert!(
        took_on_threads >= Duration::from_millis(300),
        "{took_on_threads:?}"
    );
    assert!(
        took_on_threads * 2 < took,
        "{took_on_threads:?} against {took:?}"
    );
    assert!(
        most >= idle + 3,
        "a thread per call: {most} threads at most, {idle} idle"
    );
}

#[test]
fn a_fetch_holds_its_handler_thread_as_a_sleep_does() {
    let (_upstream, server) = server_with_upstream(BINARY, &[]);
    let (fetch, nosleep) = nosleep_during(&server, "/fetch?seconds=0.6");
    assert_eq!(fetch.status, 200);
    assert!(
        nosleep.answered_at >= fetch.answered_at - Duration::from_millis(50),
        "a /nosleep was answered during a /fetch on the one handler thread"
    );
}
