//! The experiments whose wait is a timer: the seed's own, many sleeps at once, threads, the
//! mistake and the fix in an async handler, and a bounded blocking pool.

use std::time::Duration;

use crate::predictions::{predicted, Wait};
use crate::role::{Role, POOL, THREADS};
use crate::scenario::{
    seconds_text, Lane, Planned, Prediction, Scenario, COMPUTE, SEED_OFFSET, SEED_SLEEP,
};
use crate::traffic::Design;

/// The seed's two tests: `/sleep` at t = 0 and, two seconds later, `/nosleep` or another `/sleep`.
pub fn seed(scale: f64) -> [Scenario; 2] {
    let (sleep, offset) = (SEED_SLEEP.mul_f64(scale), SEED_OFFSET.mul_f64(scale));
    let when = |second: &str| {
        format!(
            "/sleep ({} s) at 0 s, {second} at {} s",
            sleep.as_secs_f64(),
            offset.as_secs_f64()
        )
    };
    [
        Scenario {
            name: "seed".to_owned(),
            description: when("/nosleep"),
            requests: vec![
                Planned::sleep(sleep, Duration::ZERO),
                Planned::nosleep(offset),
            ],
            lanes: vec![
                Lane::new(Role::Sync, predicted(Wait::Timer, Design::OneThread)),
                Lane::new(Role::Async, predicted(Wait::Timer, Design::EventLoop)),
            ],
            apart: false,
        },
        Scenario {
            name: "seed-sleep".to_owned(),
            description: when("a second /sleep"),
            requests: vec![
                Planned::sleep(sleep, Duration::ZERO),
                Planned::sleep(sleep, offset),
            ],
            lanes: vec![
                Lane::new(
                    Role::Sync,
                    Prediction::blocked("one thread, held by the first sleep: the second waits"),
                ),
                Lane::new(
                    Role::Async,
                    Prediction::not_blocked("both sleeps are awaited on the one thread at once"),
                ),
            ],
            apart: false,
        },
    ]
}

/// `count` `/sleep` requests sent at once.
pub fn fanout(count: usize, scale: f64) -> Scenario {
    let sleep = SEED_SLEEP.mul_f64(scale);
    Scenario {
        name: "fanout".to_owned(),
        description: format!("{count} /sleep ({} s) at once", sleep.as_secs_f64()),
        requests: (0..count)
            .map(|_| Planned::sleep(sleep, Duration::ZERO))
            .collect(),
        lanes: vec![
            Lane::new(Role::Sync, Prediction::rounds(count, 1, sleep, "thread")),
            Lane::new(
                Role::Async,
                Prediction {
                    wall: Some(sleep),
                    ..Prediction::not_blocked(format!("{count} sleeps awaited at once: one round"))
                },
            ),
        ],
        apart: false,
    }
}

/// `THREADS` `/sleep` at once on `sync-server` with one handler thread and with `THREADS`.
pub fn threads(scale: f64) -> Scenario {
    let sleep = SEED_SLEEP.mul_f64(scale);
    Scenario {
        name: "threads".to_owned(),
        description: format!(
            "{THREADS} /sleep ({} s) at once, on sync-server with --threads 1 and --threads {THREADS}",
            sleep.as_secs_f64()
        ),
        requests: (0..THREADS)
            .map(|_| Planned::sleep(sleep, Duration::ZERO))
            .collect(),
        lanes: vec![
            Lane::new(Role::Sync, Prediction::rounds(THREADS, 1, sleep, "thread")),
            Lane::new(Role::SyncThreads, Prediction::rounds(THREADS, THREADS, sleep, "threads")),
        ],
        apart: false,
    }
}

/// The seed's first test on `async-server`, with the `/sleep` replaced by `route` (`/block`
/// or `/offload`).
pub fn in_async_handler(route: &str, scale: f64) -> Scenario {
    let (sleep, offset) = (SEED_SLEEP.mul_f64(scale), SEED_OFFSET.mul_f64(scale));
    let what = match route {
        "/block" => "blocking the runtime thread",
        _ => "blocking a pool thread",
    };
    Scenario {
        name: route.trim_start_matches('/').to_owned(),
        description: format!(
            "{route} ({} s: {what}) at 0 s, /nosleep at {} s",
            sleep.as_secs_f64(),
            offset.as_secs_f64()
        ),
        requests: vec![
            Planned::waiting(route, sleep, Duration::ZERO),
            Planned::nosleep(offset),
        ],
        lanes: vec![Lane::new(
            Role::Async,
            match route {
                "/block" => predicted(Wait::Block, Design::EventLoop),
                _ => predicted(Wait::Block, Design::OffloadPool),
            },
        )],
        apart: false,
    }
}

/// Eight `/offload` sleeps on `async-server --blocking-threads 2`: a bounded pool queues blocking
/// work exactly as a threaded server's threads do.
pub fn pool(scale: f64) -> Scenario {
    let sleep = COMPUTE.mul_f64(scale) / 2;
    Scenario {
        name: "pool".to_owned(),
        description: format!(
            "8 /offload ({} blocking sleep each) at once on async-server --blocking-threads {POOL}",
            seconds_text(sleep)
        ),
        requests: vec![Planned::waiting("/offload", sleep, Duration::ZERO); 8],
        lanes: vec![Lane::new(
            Role::AsyncPool,
            Prediction::rounds(8, POOL, sleep, "pool threads"),
        )],
        apart: false,
    }
}
