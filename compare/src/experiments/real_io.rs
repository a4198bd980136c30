//! The experiments whose wait is real I/O: a database query, another service's answer, several
//! calls at once, a pool of connections, and more queries than the database takes.

use std::time::Duration;

use crate::predictions::{predicted, Wait};
use crate::role::{Role, DB_LIMIT, LIMIT_LATER, LIMIT_POOL, LIMIT_REQUESTS, MANY_THREADS, POOL};
use crate::scenario::{
    seconds_text, Lane, Planned, Prediction, Scenario, COMPUTE, SEED_OFFSET, SEED_SLEEP,
};
use crate::traffic::Design;

/// The seed's first test with `/query` for `/sleep`: the database waits, and the handler waits
/// for its answer, on a socket now rather than a timer. sync-server's one handler thread is
/// parked in the read; async-server's task is set aside and its thread serves the `/nosleep`.
pub fn query(scale: f64) -> Scenario {
    let (wait, offset) = (SEED_SLEEP.mul_f64(scale), SEED_OFFSET.mul_f64(scale));
    Scenario {
        name: "query".to_owned(),
        description: format!(
            "/query ({} s in the database) at 0 s, /nosleep at {} s",
            wait.as_secs_f64(),
            offset.as_secs_f64()
        ),
        requests: vec![
            Planned::waiting("/query", wait, Duration::ZERO),
            Planned::nosleep(offset),
        ],
        lanes: vec![
            Lane::new(Role::Sync, predicted(Wait::Database, Design::OneThread)),
            Lane::new(Role::Async, predicted(Wait::Database, Design::EventLoop)),
            // With --seed: the seed's own stack doing the same.
            Lane::new(
                Role::DjangoSync,
                predicted(Wait::Database, Design::DjangoSync),
            ),
            Lane::new(
                Role::DjangoThreads,
                predicted(Wait::Database, Design::DjangoThreads),
            ),
            Lane::new(
                Role::DjangoAsync,
                predicted(Wait::Database, Design::DjangoAsync),
            ),
        ],
        apart: false,
    }
}

/// The seed's shape with `/fetch` for `/sleep`: the upstream waits, and the handler waits for
/// its answer, on a socket as `/query` does.
pub fn fetch(scale: f64) -> Scenario {
    let (wait, offset) = (SEED_SLEEP.mul_f64(scale), SEED_OFFSET.mul_f64(scale));
    Scenario {
        name: "fetch".to_owned(),
        description: format!(
            "/fetch (the upstream waits {} s) at 0 s, /nosleep at {} s",
            wait.as_secs_f64(),
            offset.as_secs_f64()
        ),
        requests: vec![
            Planned::waiting("/fetch", wait, Duration::ZERO),
            Planned::nosleep(offset),
        ],
        lanes: vec![
            Lane::new(Role::Sync, predicted(Wait::Service, Design::OneThread)),
            Lane::new(Role::Async, predicted(Wait::Service, Design::EventLoop)),
        ],
        apart: false,
    }
}

/// How many calls one request of `calls` makes.
pub const CALLS: u32 = 3;

/// One `/fetch` of three calls, each waiting a second upstream: one after another on the
/// handler thread, a thread per call (`via=threads`), or all at once on an event loop.
pub fn calls(scale: f64) -> Scenario {
    let each = COMPUTE.mul_f64(scale) / 2;
    let path = |via: &str| format!("/fetch?seconds={}&count={CALLS}{via}", each.as_secs_f64());
    // The handler's own wait is at least one call: the longest, were they at once.
    let fetch = |via| Planned {
        path: path(via),
        at: Duration::ZERO,
        work: each,
    };
    let at_once = |why: &str| Prediction {
        wall: Some(each),
        ..Prediction::not_blocked(why)
    };
    Scenario {
        name: "calls".to_owned(),
        description: format!(
            "one /fetch of {CALLS} calls ({} upstream each): on sync-server's handler thread, on \
             a thread per call (via=threads), and on async-server",
            seconds_text(each)
        ),
        requests: vec![fetch("")],
        lanes: vec![
            Lane::new(
                Role::Sync,
                Prediction {
                    wall: Some(each * CALLS),
                    ..Prediction::blocked(format!(
                        "one thread, one call at a time: {CALLS} × {}",
                        seconds_text(each)
                    ))
                },
            ),
            Lane::new(
                Role::SyncCallThreads,
                at_once(&format!(
                    "a scoped thread per call, all parked at once: {} threads, the longest call",
                    CALLS + 1
                )),
            ),
            Lane::new(
                Role::Async,
                at_once("one task awaits every call at once on the one thread: the longest call"),
            ),
        ],
        apart: false,
    }
    .with_requests_for(Role::SyncCallThreads, vec![fetch("&via=threads")])
}

/// `4 × P` `/query` at once, on async-server with a database pool of `P` and on sync-server
/// with a handler thread (and so a connection) for each: a bounded pool queues queries in
/// ⌈N/P⌉ rounds on one thread, the arithmetic of threads; threads run them in one round, on
/// as many database connections.
pub fn db_pool(scale: f64) -> Scenario {
    let wait = COMPUTE.mul_f64(scale) / 2;
    let count = 4 * POOL;
    Scenario {
        name: "db-pool".to_owned(),
        description: format!(
            "{count} /query ({} in the database each) at once on async-server --db-pool {POOL} \
             and on sync-server --threads {MANY_THREADS}",
            seconds_text(wait)
        ),
        requests: vec![Planned::waiting("/query", wait, Duration::ZERO); count],
        lanes: vec![
            Lane::new(
                Role::AsyncPool,
                Prediction::rounds(count, POOL, wait, "pooled connections"),
            ),
            Lane::new(
                Role::SyncMany,
                Prediction::rounds(count, MANY_THREADS, wait, "threads, a connection each"),
            ),
            // With --seed: Django bounds nothing; a thread, and a connection, per request.
            Lane::new(
                Role::DjangoSync,
                Prediction::rounds(count, 1, wait, "thread, one connection"),
            ),
            Lane::new(
                Role::DjangoThreads,
                Prediction::rounds(count, count, wait, "threads, a connection each"),
            ),
            Lane::new(
                Role::DjangoAsync,
                Prediction::rounds(
                    count,
                    count,
                    wait,
                    "sync_to_async threads, a connection each",
                ),
            ),
        ],
        // One server after another: five at once would share two cores, and the seed's
        // Python servers would time each other.
        apart: true,
    }
}

/// More `/query` at once than the database takes connections (`max_connections`), on a cluster
/// of its own, and a few more once that burst is over: a bounded pool queues them; a thread per
/// request with a connection each either waits for one (sync-server's threads share one pool,
/// which hands a connection back to the next in line) or is refused (Django on uvicorn: each
/// request's thread opens its own, the database says "too many clients", and the connections
/// of threads that have ended stay open, so those that come later are refused too).
pub fn db_limit(scale: f64) -> Scenario {
    let wait = COMPUTE.mul_f64(scale) / 2;
    let (count, limit, later) = (LIMIT_REQUESTS, DB_LIMIT, LIMIT_LATER);
    // After every burst is answered: the pool's three rounds, and a second to spare.
    let then = wait * 4 + Duration::from_secs(1);
    let mut requests = vec![Planned::waiting("/query", wait, Duration::ZERO); count];
    requests.extend(vec![Planned::waiting("/query", wait, then); later]);
    let refused = |why: &str| Prediction {
        refused: count - limit + later,
        ..Prediction::not_blocked(format!(
            "{why}: {limit} of {count} get one, {} are refused at once; their connections stay \
             open after their threads end (CONN_MAX_AGE), so the {later} after are refused too",
            count - limit
        ))
    };
    Scenario {
        name: "db-limit".to_owned(),
        description: format!(
            "{count} /query ({} in the database each) at once and {later} more at {}, on a \
             database of max_connections {limit}, one server after another",
            seconds_text(wait),
            seconds_text(then)
        ),
        requests,
        lanes: vec![
            Lane::new(
                Role::AsyncLimitPool,
                Prediction::blocked(format!(
                    "{count} on {LIMIT_POOL} pooled connections: ⌈{count}/{LIMIT_POOL}⌉ = {} \
                     rounds, none refused; the {later} after take pooled connections at once",
                    count.div_ceil(LIMIT_POOL)
                )),
            ),
            Lane::new(
                Role::SyncLimitThreads,
                Prediction::blocked(format!(
                    "{count} threads share one pool, and the database takes {limit}: \
                     ⌈{count}/{limit}⌉ = {} rounds, the rest waiting for a connection handed \
                     back, none refused; the {later} after reuse the open ones",
                    count.div_ceil(limit)
                )),
            ),
            // Not Django's threaded runserver: its listen backlog of 10 turns most of a burst
            // away, and the client's kernel sends them again a second later, so its burst is
            // not one and what is refused depends on how the retries fall.
            Lane::new(
                Role::DjangoAsync,
                refused("a sync_to_async thread per request opens a connection of its own"),
            ),
        ],
        apart: true,
    }
}
