//! The checks of `/query` that hold for both servers, each against a real PostgreSQL cluster of
//! its own ([`pgcluster`]), stopped and removed when the check ends.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use pgcluster::Cluster;

use crate::{all_at_once, Reply, Server};

/// The checks of this module as `#[test]`s for one server binary (like `contract_tests!`).
#[macro_export]
macro_rules! database_tests {
    ($binary:expr) => {
        $crate::each_check!(database, $binary;
            query_is_answered_by_a_database_backend,
            without_a_database_query_says_how_to_give_one,
            a_database_stopped_mid_query_is_503_and_recovers,
            an_unreachable_database_is_503_within_the_wait,
        );
    };
}

/// A cluster for one check, and a server started with `--database` pointing at it.
pub fn server_with_database(
    binary: &str,
    max_connections: u32,
    args: &[&str],
) -> (Cluster, Server) {
    let cluster = Cluster::start(max_connections).expect("a throwaway cluster (scripts/setup)");
    let url = cluster.url();
    let server = Server::start(binary, &[&["--database", url.as_str()][..], args].concat());
    (cluster, server)
}

/// The backend process id an answer names.
pub fn db_pid(reply: &Reply) -> u32 {
    let pid = reply.header("X-Db-Pid");
    pid.and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no X-Db-Pid: {reply:?}"))
}

/// `/query?seconds=S` waits in the database and answers `query`, naming the database backend
/// that ran it: a process of its own (not the server's), the same one again on a kept
/// connection. A bad `seconds` is refused before the database is asked.
pub fn query_is_answered_by_a_database_backend(binary: &str) {
    let (_cluster, server) = server_with_database(binary, 20, &[]);
    let reply = server.get("/query?seconds=0.3");
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "query"),
        "{reply:?}"
    );
    assert!(reply.latency() >= Duration::from_millis(300), "{reply:?}");
    let backend = db_pid(&reply);
    assert_ne!(backend, server.pid());
    assert!(std::path::Path::new(&format!("/proc/{backend}")).exists());
    let again = server.get("/query?seconds=0");
    assert_eq!(db_pid(&again), backend, "a pooled connection is used again");
    let head = server.request("HEAD", "/query?seconds=0");
    assert_eq!((head.status, head.body.as_str()), (200, ""));
    for bad in [
        "/query?seconds=-1",
        "/query?seconds=abc",
        "/query?seconds=61",
    ] {
        assert_eq!(server.get(bad).status, 400, "{bad}");
    }
}

/// Without `--database`, `/query` answers `503` at once with `Retry-After`, saying how to give
/// one, and everything else works as before.
pub fn without_a_database_query_says_how_to_give_one(binary: &str) {
    let server = Server::start(binary, &[]);
    let reply = server.get("/query?seconds=1");
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("Retry-After"), Some("1"));
    assert!(reply.body.contains("--database"), "{:?}", reply.body);
    assert!(reply.latency() < Duration::from_millis(500));
    assert_eq!(server.get("/nosleep").status, 200);
}

/// The database stopped in the middle of a query (`pg_ctl stop -m immediate`): that query is
/// answered `503` at once, with `Retry-After` and one line naming the cause; `/nosleep` is
/// answered meanwhile; once the database is back, the next `/query` succeeds, with no restart.
pub fn a_database_stopped_mid_query_is_503_and_recovers(binary: &str) {
    let (cluster, server) = server_with_database(binary, 20, &["--db-wait", "1"]);
    assert_eq!(server.get("/query?seconds=0").status, 200);
    let cut = std::thread::scope(|scope| {
        let pending = scope.spawn(|| server.get("/query?seconds=3"));
        server.wait_for_stdout(|line| line.starts_with("START") && line.ends_with("seconds=3"));
        // The statement has reached the database.
        let asked = Instant::now();
        while cluster.backends_running("SELECT") == 0 {
            assert!(
                asked.elapsed() < crate::PATIENCE,
                "the query never reached the database"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let stopped = Instant::now();
        cluster.stop_immediately().unwrap();
        let cut = pending.join().unwrap();
        // Within --db-wait (1 s): a server may try once more on a new connection first.
        let took = stopped.elapsed();
        assert!(took < Duration::from_millis(1500), "{took:?}");
        cut
    });
    assert_eq!(cut.status, 503, "{cut:?}");
    assert_eq!(cut.header("Retry-After"), Some("1"));
    assert!(cut.body.starts_with("database unavailable: ") && cut.body.ends_with('\n'));
    assert_eq!(cut.body.matches('\n').count(), 1, "{:?}", cut.body);
    // Down: refused within --db-wait (1 s), and the rest still served.
    let down = server.get("/query?seconds=0");
    assert_eq!(down.status, 503, "{down:?}");
    assert!(down.latency() < Duration::from_millis(2500), "{down:?}");
    assert_eq!(server.get("/nosleep").status, 200);
    cluster.resume().unwrap();
    let back = server.get("/query?seconds=0");
    assert_eq!(back.status, 200, "after the database is back: {back:?}");
}

/// `--database` pointing where nothing listens: the server starts and serves; `/query` is `503`
/// within `--db-wait`.
pub fn an_unreachable_database_is_503_within_the_wait(binary: &str) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let server = Server::start(binary, &["--database", &url, "--db-wait", "0.5"]);
    let reply = server.get("/query?seconds=0");
    assert_eq!(reply.status, 503, "{reply:?}");
    assert!(reply.latency() < Duration::from_millis(1500), "{reply:?}");
    assert!(
        reply.body.contains("database unavailable"),
        "{:?}",
        reply.body
    );
    assert_eq!(server.get("/nosleep").status, 200);
}

/// `count` `/query` (0.4 s) at once: they take `rounds` rounds, on exactly `backends`
/// database connections.
pub fn queries_take_rounds(server: &Server, count: usize, backends: usize, rounds: u32) {
    let targets = vec!["/query?seconds=0.4"; count];
    let started = Instant::now();
    let replies = all_at_once(server, &targets);
    let wall = started.elapsed();
    assert!(
        replies.iter().all(|reply| reply.status == 200),
        "{replies:?}"
    );
    let used: BTreeSet<u32> = replies.iter().map(db_pid).collect();
    assert_eq!(used.len(), backends, "{used:?}");
    let round = Duration::from_millis(400);
    assert!(
        wall >= round * rounds - Duration::from_millis(40),
        "{wall:?}"
    );
    assert!(wall < round * (rounds + 1), "{wall:?}");
}

/// `count` `/query` (or `/offload?work=query`) of `seconds` at once against a database that takes
/// fewer connections: the answers, each `200` or a `503` naming the cause, all within `bound`.
pub fn queries_at_once(server: &Server, target: &str, count: usize, bound: Duration) -> Vec<Reply> {
    let targets = vec![target; count];
    let started = Instant::now();
    let replies = all_at_once(server, &targets);
    assert!(started.elapsed() < bound, "{:?}", started.elapsed());
    for reply in &replies {
        assert!(reply.status == 200 || reply.status == 503, "{reply:?}");
        if reply.status == 503 {
            assert!(
                reply.body.starts_with("database unavailable: "),
                "{:?}",
                reply.body
            );
            assert_eq!(reply.header("Retry-After"), Some("1"));
        }
    }
    replies
}
