//! `/query` on async-server, against a real PostgreSQL cluster per test: the async client from
//! a bounded pool, awaited; and `/offload?work=query`, the blocking client on the blocking pool.

use std::time::Duration;

use testkit::contract::nosleep_during;
use testkit::database::{db_pid, queries_at_once, queries_take_rounds, server_with_database};

const BINARY: &str = env!("CARGO_BIN_EXE_async-server");

testkit::database_tests!(BINARY);

#[test]
fn a_query_awaited_leaves_the_thread_to_others() {
    let (_cluster, server) = server_with_database(BINARY, 20, &[]);
    let (query, nosleep) = nosleep_during(&server, "/query?seconds=0.6");
    assert_eq!(query.status, 200);
    assert!(
        nosleep.latency() < Duration::from_millis(150),
        "{nosleep:?}"
    );
    assert!(nosleep.answered_at < query.answered_at);
    assert_eq!(nosleep.tid(), query.tid(), "one thread");
}

#[test]
fn queries_wait_for_the_pool_in_rounds_on_one_thread() {
    let (_cluster, server) = server_with_database(BINARY, 40, &["--db-pool", "4"]);
    queries_take_rounds(&server, 16, 4, 4);
}

#[test]
fn a_pool_busy_past_the_wait_is_503_naming_it() {
    let args = ["--db-pool", "1", "--db-wait", "0.5"];
    let (_cluster, server) = server_with_database(BINARY, 20, &args);
    let replies = queries_at_once(&server, "/query?seconds=1.5", 2, Duration::from_secs(3));
    let mut statuses: Vec<u16> = replies.iter().map(|reply| reply.status).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 503], "{replies:?}");
    let refused = replies.iter().find(|reply| reply.status == 503).unwrap();
    assert!(refused.body.contains("--db-wait"), "{:?}", refused.body);
    assert!(
        refused.latency() < Duration::from_millis(1200),
        "{refused:?}"
    );
}

#[test]
fn a_pool_queues_what_the_database_would_refuse() {
    // More queries at once than the database takes: the pool's four connections serve them all.
    let (_cluster, server) = server_with_database(BINARY, 4, &["--db-pool", "4"]);
    let replies = queries_at_once(&server, "/query?seconds=0.4", 12, Duration::from_secs(3));
    assert!(
        replies.iter().all(|reply| reply.status == 200),
        "{replies:?}"
    );
}

#[test]
fn offloaded_queries_run_on_the_blocking_pool_with_a_connection_each() {
    let (_cluster, server) = server_with_database(BINARY, 4, &["--db-wait", "0.5"]);
    let reply = server.get("/offload?seconds=0.2&work=query");
    assert_eq!((reply.status, reply.body.as_str()), (200, "offload"));
    assert_ne!(reply.work_tid(), reply.tid(), "{reply:?}");
    db_pid(&reply);
    // A connection per blocking thread, as Django's sync_to_async: eight at once against a
    // database that takes four are refused past its limit.
    let target = "/offload?seconds=1&work=query";
    let replies = queries_at_once(&server, target, 8, Duration::from_secs(4));
    let refused = replies.iter().filter(|reply| reply.status == 503).count();
    assert!(refused >= 3, "{replies:?}");
}
