//! `/query` on sync-server, against a real PostgreSQL cluster per test: the blocking client on
//! the handler thread, a connection per handler thread.

use std::time::Duration;

use testkit::contract::nosleep_during;
use testkit::database::{queries_at_once, queries_take_rounds, server_with_database};

const BINARY: &str = env!("CARGO_BIN_EXE_sync-server");

testkit::database_tests!(BINARY);

#[test]
fn a_query_holds_its_handler_thread_as_a_sleep_does() {
    let (_cluster, server) = server_with_database(BINARY, 20, &[]);
    let (query, nosleep) = nosleep_during(&server, "/query?seconds=0.6");
    assert_eq!(query.status, 200);
    assert!(
        nosleep.answered_at >= query.answered_at - Duration::from_millis(50),
        "a /nosleep was answered during a /query on the one handler thread"
    );
}

#[test]
fn threads_run_their_queries_at_once_each_on_a_connection_of_its_own() {
    let (_cluster, server) = server_with_database(BINARY, 40, &["--threads", "16"]);
    queries_take_rounds(&server, 16, 16, 1);
    let (_cluster, server) = server_with_database(BINARY, 40, &["--threads", "2"]);
    queries_take_rounds(&server, 8, 2, 4);
}

#[test]
fn more_threads_than_the_database_takes_are_refused_past_its_limit() {
    // A connection per handler thread: eight threads against a database that takes four.
    let args = ["--threads", "8", "--db-wait", "0.5"];
    let (_cluster, server) = server_with_database(BINARY, 4, &args);
    let target = "/query?seconds=1";
    let replies = queries_at_once(&server, target, 8, Duration::from_secs(4));
    let served = replies.iter().filter(|reply| reply.status == 200).count();
    assert_eq!(served, 4, "{replies:?}");
    // r2d2 hands the database's reason to one of those it refuses; the others time out.
    let named = replies
        .iter()
        .any(|reply| reply.body.contains("too many clients"));
    assert!(named, "{replies:?}");
}
