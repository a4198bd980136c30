//! The answer page's rows and columns: the designs, and for each kind of wait the scenario
//! that asks every design at once, with its predictions.

use std::time::Duration;

use crate::role::{Role, POOL, THREADS};
use crate::scenario::{seconds_text, Lane, Planned, Prediction, Scenario, COMPUTE};

/// The designs, the table's columns, each the server that runs it.
pub const DESIGNS: [(Role, &str); 7] = [
    (Role::Sync, "one thread"),
    (Role::SyncThreads, "4 threads"),
    (Role::Async, "one event loop"),
    (Role::AsyncPool, "event loop + offload pool of 2"),
    (Role::DjangoSync, "Django runserver --nothreading"),
    (
        Role::DjangoThreads,
        "Django runserver, a thread per request",
    ),
    (Role::DjangoAsync, "Django async views on uvicorn"),
];

/// How many calls the row of several services makes, and how many waits the pool row sends.
pub(super) const CALLS: u32 = 3;
pub(super) const CROWD: usize = 8;

/// The rows, each a scenario whose name starts `answer-`, with the question it answers.
pub fn scenarios(scale: f64) -> Vec<Scenario> {
    let wait = COMPUTE.mul_f64(scale);
    let quick = wait.mul_f64(0.4);
    let one = |route: &str| Planned::waiting(route, wait, Duration::ZERO);
    let with_quick = |first: Planned| vec![first, Planned::nosleep(quick)];
    let offload = |work: &str| Planned {
        path: format!("/offload?seconds={}{work}", wait.as_secs_f64()),
        at: Duration::ZERO,
        work: wait,
    };
    let blocked = |why: &str| Prediction::blocked(why);
    let free = |why: &str| Prediction::not_blocked(why);
    // Each design is judged by its quick request, where the row has one: whether it kept
    // that request waiting, whatever the view's own work took on a shared machine.
    let row = |name: &str, description: String, requests, lanes: Vec<Lane>| {
        Scenario {
            name: format!("answer-{name}"),
            description,
            requests,
            lanes,
            apart: name == "cpu",
        }
        .judged_by_quick_requests()
    };
    let lane = Lane::new;
    let waits_on = |what: &str| {
        format!(
            "{what} for {}, /nosleep at {}",
            seconds_text(wait),
            seconds_text(quick)
        )
    };
    let calls = |via: &str| Planned {
        path: format!("/fetch?seconds={}&count={CALLS}{via}", wait.as_secs_f64()),
        at: Duration::ZERO,
        work: wait,
    };
    let pooled_wait = wait / 2;
    vec![
        row(
            "timer",
            waits_on("/sleep"),
            with_quick(one("/sleep")),
            vec![
                lane(Role::Sync, blocked("the one thread sleeps: /nosleep waits for it")),
                lane(Role::SyncThreads, free("another of the threads answers /nosleep")),
                lane(Role::Async, free("the sleep is awaited: the thread is free")),
                lane(Role::AsyncPool, free("the blocking sleep is on the pool, awaited")),
                lane(Role::DjangoSync, blocked("runserver's one thread sleeps")),
                lane(Role::DjangoThreads, free("another thread answers /nosleep")),
                lane(Role::DjangoAsync, free("asyncio.sleep is awaited: the loop is free")),
            ],
        )
        .with_requests_for(Role::AsyncPool, with_quick(offload(""))),
        row(
            "cpu",
            waits_on("/compute"),
            with_quick(one("/compute")),
            vec![
                lane(Role::Sync, blocked("the one thread computes: /nosleep waits for it")),
                lane(Role::SyncThreads, free("another thread, on another core, answers")),
                lane(Role::Async, blocked("computing never awaits: the loop is held")),
                lane(Role::AsyncPool, free("the work is on a pool thread, awaited")),
                lane(Role::DjangoSync, blocked("the one thread computes")),
                lane(
                    Role::DjangoThreads,
                    free("another thread answers, taking the GIL in the computing one's pauses"),
                ),
                lane(Role::DjangoAsync, blocked("computing in a coroutine holds the loop")),
            ],
        )
        .with_requests_for(Role::AsyncPool, with_quick(offload("&work=compute"))),
        row(
            "database",
            waits_on("/query"),
            with_quick(one("/query")),
            vec![
                lane(Role::Sync, blocked("the one thread reads the database's answer")),
                lane(Role::SyncThreads, free("another of the threads answers /nosleep")),
                lane(Role::Async, free("the query is awaited on its socket")),
                lane(Role::AsyncPool, free("the blocking client is on the pool, awaited")),
                lane(Role::DjangoSync, blocked("the one thread reads psycopg's answer")),
                lane(Role::DjangoThreads, free("another thread answers /nosleep")),
                lane(Role::DjangoAsync, free("sync_to_async: the query on a thread of its own")),
            ],
        )
        .with_requests_for(Role::AsyncPool, with_quick(offload("&work=query"))),
        row(
            "service",
            waits_on("/fetch"),
            with_quick(one("/fetch")),
            vec![
                lane(Role::Sync, blocked("the one thread reads the upstream's answer")),
                lane(Role::SyncThreads, free("another of the threads answers /nosleep")),
                lane(Role::Async, free("the call is awaited on its socket")),
                lane(Role::DjangoSync, blocked("the one thread reads the upstream's answer")),
                lane(Role::DjangoThreads, free("another thread answers /nosleep")),
                lane(Role::DjangoAsync, free("the call is awaited on asyncio's streams")),
            ],
        ),
        row(
            "services",
            format!(
                "one /fetch of {CALLS} calls of {} (a thread per call on 4 threads), /nosleep at {}",
                seconds_text(wait),
                seconds_text(quick)
            ),
            with_quick(calls("")),
            vec![
                lane(
                    Role::Sync,
                    Prediction {
                        wall: Some(wait * CALLS),
                        ..blocked("one call after another, and /nosleep behind them")
                    },
                ),
                lane(
                    Role::SyncThreads,
                    Prediction {
                        wall: Some(wait),
                        ..free("a scoped thread per call: the longest call")
                    },
                ),
                lane(
                    Role::Async,
                    Prediction {
                        wall: Some(wait),
                        ..free("every call awaited at once: the longest call")
                    },
                ),
                lane(
                    Role::DjangoSync,
                    Prediction {
                        wall: Some(wait * CALLS),
                        ..blocked("one call after another, and /nosleep behind them")
                    },
                ),
                lane(
                    Role::DjangoThreads,
                    Prediction {
                        wall: Some(wait * CALLS),
                        ..free("one call after another on the view's thread; /nosleep on another")
                    },
                ),
                lane(
                    Role::DjangoAsync,
                    Prediction {
                        wall: Some(wait),
                        ..free("asyncio.gather: every call at once, the longest call")
                    },
                ),
            ],
        )
        .with_requests_for(Role::SyncThreads, with_quick(calls("&via=threads"))),
        row(
            "mistake",
            waits_on("/block (a blocking sleep in the async handler)"),
            with_quick(one("/block")),
            vec![
                lane(Role::Async, blocked("the blocking sleep holds the loop's one thread")),
                lane(Role::AsyncPool, free("the fix: the same sleep on the pool, awaited")),
                lane(Role::DjangoAsync, blocked("time.sleep in a coroutine holds the loop")),
            ],
        )
        .with_requests_for(Role::AsyncPool, with_quick(offload(""))),
        row(
            "pool",
            format!(
                "{CROWD} waits of {} at once: /sleep, or /offload on the pool",
                seconds_text(pooled_wait)
            ),
            vec![Planned::waiting("/sleep", pooled_wait, Duration::ZERO); CROWD],
            vec![
                lane(Role::Sync, Prediction::rounds(CROWD, 1, pooled_wait, "thread")),
                lane(Role::SyncThreads, Prediction::rounds(CROWD, THREADS, pooled_wait, "threads")),
                lane(
                    Role::Async,
                    Prediction {
                        wall: Some(pooled_wait),
                        ..free("tasks: all at once, one round")
                    },
                ),
                lane(Role::AsyncPool, Prediction::rounds(CROWD, POOL, pooled_wait, "pool threads")),
                lane(Role::DjangoSync, Prediction::rounds(CROWD, 1, pooled_wait, "thread")),
                lane(
                    Role::DjangoThreads,
                    Prediction::rounds(CROWD, CROWD, pooled_wait, "threads, one per request"),
                ),
                lane(
                    Role::DjangoAsync,
                    Prediction {
                        wall: Some(pooled_wait),
                        ..free("coroutines: all at once, one round")
                    },
                ),
            ],
        )
        .with_requests_for(
            Role::AsyncPool,
            vec![
                Planned {
                    path: format!("/offload?seconds={}", pooled_wait.as_secs_f64()),
                    at: Duration::ZERO,
                    work: pooled_wait,
                };
                CROWD
            ],
        ),
    ]
}

/// The question each row answers, by its scenario's name.
pub(super) fn question(name: &str) -> &'static str {
    match name {
        "answer-timer" => "a timer",
        "answer-cpu" => "CPU",
        "answer-database" => "a database",
        "answer-service" => "another service",
        "answer-services" => "several services at once",
        "answer-mistake" => "a blocking call in async code, by mistake",
        "answer-pool" => "a bounded pool",
        _ => "",
    }
}
