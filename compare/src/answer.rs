//! `answer`: every kind of wait against every design, in one table, from one run.
//!
//! Each row is a scenario of its own: what the view waits on (a timer, CPU, a database, another
//! service, several at once, a blocking call by mistake, a bounded pool), sent to each design at
//! once: one thread (sync-server), N threads (sync-server `--threads 4`), one event loop
//! (async-server) and an event loop with an offload pool (async-server `--blocking-threads 2`,
//! through `/offload`). A quick `/nosleep` goes in while the view waits. The page is written
//! from what this run measured: each cell with a ✓ where it agreed with its prediction and the
//! prediction where it did not, and the advice under the table composed from the same figures.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use crate::report::{Report, ScenarioReport, ServerReport};
use crate::scenario::{
    seconds_text, Lane, Planned, Prediction, Role, Scenario, COMPUTE, POOL, THREADS,
};
use crate::verdict::seconds;

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
const CALLS: u32 = 3;
const CROWD: usize = 8;

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
fn question(name: &str) -> &'static str {
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

/// One cell: what the design did with the row, what it held for it, and whether it was
/// predicted.
pub fn cell(server: &ServerReport) -> String {
    let mut text = String::new();
    let quick = quick_latency(server);
    text += if server.blocked {
        "blocked"
    } else {
        "not blocked"
    };
    if let Some(quick) = quick {
        let _ = write!(text, "; /nosleep {}", seconds(quick));
    }
    if server.predicted_wall_s.is_some() {
        // Rounds: how many of one request's waits the whole took.
        let each = server.requests.iter().map(|r| r.work_s).fold(0.0, f64::max);
        let rounds = (server.wall_s / each.max(f64::EPSILON)).round();
        let _ = write!(
            text,
            "; all in {} ({rounds} round{})",
            seconds(Duration::from_secs_f64(server.wall_s)),
            if rounds == 1.0 { "" } else { "s" }
        );
    }
    text += &held(server);
    if server.as_predicted {
        text += " ✓";
    } else {
        let expected = if server.predicted_blocked {
            "blocked"
        } else {
            "not blocked"
        };
        let _ = write!(text, " ✗ (predicted {expected}");
        if let Some(wall) = server.predicted_wall_s {
            let _ = write!(text, ", {}", seconds(Duration::from_secs_f64(wall)));
        }
        text += ")";
    }
    text
}

/// What the design held for the row: its OS threads before and at the peak, what its memory
/// grew by (per waiting request, where several waited), and its database connections; from the
/// answers' thread ids where compare did not start the server.
fn held(server: &ServerReport) -> String {
    let Some(held) = &server.held else {
        let threads = threads(server);
        return format!("; {threads} thread{}", if threads == 1 { "" } else { "s" });
    };
    let waiting = server.requests.iter().filter(|r| r.work_s > 0.0).count();
    let grown = held.rss_kib.peak.saturating_sub(held.rss_kib.before) as f64;
    let mut text = format!(
        "; {} → {} OS threads; RSS +{grown:.0} KiB",
        held.threads.before, held.threads.peak
    );
    if waiting > 1 {
        let _ = write!(
            text,
            " ({:.0} KiB per waiting request)",
            grown / waiting as f64
        );
    }
    let connections = held.database_connections.peak;
    if connections > 0 {
        let _ = write!(
            text,
            "; {connections} database connection{}",
            if connections == 1 { "" } else { "s" }
        );
    }
    text
}

/// The latency of the row's `/nosleep`, if it had one.
pub fn quick_latency(server: &ServerReport) -> Option<Duration> {
    let quick = server.requests.iter().find(|r| r.path == "/nosleep")?;
    quick.latency_s.map(Duration::from_secs_f64)
}

/// The threads that ran the row's handlers and offloaded work, as the answers named them.
fn threads(server: &ServerReport) -> usize {
    let ids: BTreeSet<u64> = server
        .requests
        .iter()
        .flat_map(|r| r.tid.into_iter().chain(r.work_tid))
        .collect();
    ids.len()
}

/// Why a design has no cell in a row; `seeded`: whether the run had the seed's servers.
fn not_run(role: Role, row: &str, seeded: bool) -> &'static str {
    match (role, row) {
        (
            Role::Sync | Role::SyncThreads | Role::DjangoSync | Role::DjangoThreads,
            "answer-mistake",
        ) => "— (a thread may block: it has no event loop to hold)",
        (Role::DjangoSync | Role::DjangoThreads | Role::DjangoAsync, _) if !seeded => {
            "— (with --seed)"
        }
        (Role::AsyncPool, _) => "— (no blocking client to offload: the async one is awaited)",
        _ => "—",
    }
}

/// The page: the table, the advice composed from it, and how it was measured.
/// `picture` is the timeline's file name, beside the page.
/// `seed_versions`: the packages the seed's environment pins (`Django==5.2.19`, ...).
pub fn page(
    report: &Report,
    scale: f64,
    (command, machine): (&str, &str),
    picture: &str,
    seed_versions: &[String],
) -> String {
    let rows: Vec<&ScenarioReport> = report
        .scenarios
        .iter()
        .filter(|scenario| scenario.name.starts_with("answer-"))
        .collect();
    let mut page = String::from("# The answer: every kind of wait against every design\n\n");
    page += "What async buys a server on one thread, and what it does not, measured in one run. \
             Each row is a kind of wait a view has; each column a design people choose between. \
             While the view waits, a quick `/nosleep` is asked: a design is *blocked* when that \
             (or the view itself) waited behind something else. ✓: as predicted before the run; \
             ✗: not, with the prediction. Where the row times all its requests, the cell gives \
             the whole and its rounds (the whole over one request's wait). The last three columns are the seed's own Django \
             project on the servers it names, doing the same (`compare --seed`). Each cell also \
             says what the design held meanwhile, read from /proc every 20 ms: its OS threads \
             before the row and at its peak (every thread of the process, the library's and \
             the server's helpers beside the handler threads included), what its resident memory grew by (per waiting \
             request where several waited; with one, the first use of a route weighs in), and \
             its connections to the database.\n\n";
    page += "| the view waits on |";
    for (_, design) in DESIGNS {
        let _ = write!(page, " {design} |");
    }
    page += "\n| --- |";
    page += &" --- |".repeat(DESIGNS.len());
    page += "\n";
    let seeded = rows
        .iter()
        .flat_map(|row| &row.servers)
        .any(|server| Role::from_name(server.server).is_some_and(|r| r.seed_stack().is_some()));
    for row in &rows {
        let _ = write!(page, "| {} |", question(&row.name));
        for (role, _) in DESIGNS {
            let server = row.servers.iter().find(|s| s.server == role.name());
            let text = server.map_or_else(|| not_run(role, &row.name, seeded).to_owned(), cell);
            let _ = write!(page, " {text} |");
        }
        page += "\n";
    }
    let _ = write!(
        page,
        "\n![Each row's requests on each design, on one time axis per row: red is waiting behind \
         others, blue the request's own wait]({picture})\n"
    );
    page += "\n## What to choose, from these figures\n\n";
    for row in &rows {
        let _ = writeln!(
            page,
            "- **{}.** {}",
            capitalised(question(&row.name)),
            advice(row)
        );
    }
    let _ = write!(
        page,
        "\n## How it was measured\n\n`{command}`, at `--scale {scale}` (each wait {}), on {machine}. \
         {}\n\nThe rows, as sent:\n\n",
        seconds_text(COMPUTE.mul_f64(scale)),
        crate::report::METHOD
    );
    for row in &rows {
        let _ = writeln!(page, "- {}: {}.", question(&row.name), row.description);
    }
    if seeded {
        let _ = write!(
            page,
            "\nThe Django columns run the seed's project, `bench/seed` (its views, and a \
             `/query`, `/fetch`, `/compute` and `/block` of the same kind), with {}, from PyPI \
             into a virtual environment of compare's own; its database connections persist \
             (`CONN_MAX_AGE` 600).\n",
            seed_versions.join(", ")
        );
    } else {
        page += "\nThe Django columns need `--seed`, which runs the seed's own project beside \
                 ours.\n";
    }
    page
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// A few sentences for one row, from its figures: who was blocked, and by how much, then what
/// that means for a choice, said only where the run agreed with the predictions.
fn advice(row: &ScenarioReport) -> String {
    let by_role = |role: Role| row.servers.iter().find(|s| s.server == role.name());
    let quick = |role: Role| {
        by_role(role)
            .and_then(quick_latency)
            .map_or_else(|| "—".to_owned(), seconds)
    };
    let wall = |role: Role| {
        by_role(role).map_or_else(
            || "—".to_owned(),
            |s| seconds(Duration::from_secs_f64(s.wall_s)),
        )
    };
    let agreed = row.servers.iter().all(|server| server.as_predicted);
    let measured = match row.name.as_str() {
        "answer-pool" => format!(
            "{CROWD} waits took {} on one thread, {} on four, {} on the event loop and {} on a \
             pool of two.",
            wall(Role::Sync),
            wall(Role::SyncThreads),
            wall(Role::Async),
            wall(Role::AsyncPool)
        ),
        "answer-services" => format!(
            "{CALLS} calls took {} one after another on one thread, {} on a thread each and {} \
             awaited together on the event loop; /nosleep waited {}, {} and {}.",
            wall(Role::Sync),
            wall(Role::SyncThreads),
            wall(Role::Async),
            quick(Role::Sync),
            quick(Role::SyncThreads),
            quick(Role::Async)
        ),
        "answer-mistake" => format!(
            "/nosleep waited {} behind the blocking call on the event loop, and {} when the same \
             call ran on the pool.",
            quick(Role::Async),
            quick(Role::AsyncPool)
        ),
        _ => format!(
            "/nosleep waited {} on one thread, {} on four, {} on the event loop{}.",
            quick(Role::Sync),
            quick(Role::SyncThreads),
            quick(Role::Async),
            by_role(Role::AsyncPool)
                .map(|_| format!(" and {} with the pool", quick(Role::AsyncPool)))
                .unwrap_or_default()
        ),
    };
    // The seed's stack, where it ran: the same figure on its three servers.
    let django = [Role::DjangoSync, Role::DjangoThreads, Role::DjangoAsync];
    let measured = if django.iter().any(|&role| by_role(role).is_some()) {
        let figure = |role| match row.name.as_str() {
            "answer-pool" | "answer-services" => wall(role),
            _ => quick(role),
        };
        let what = match row.name.as_str() {
            "answer-pool" => "they took",
            "answer-services" => "the calls took",
            _ => "/nosleep waited",
        };
        format!(
            "{measured} On Django {what} {} on runserver --nothreading, {} threaded and {} on \
             uvicorn.",
            figure(Role::DjangoSync),
            figure(Role::DjangoThreads),
            figure(Role::DjangoAsync)
        )
    } else {
        measured
    };
    let meaning = match row.name.as_str() {
        "answer-timer" | "answer-database" | "answer-service" => {
            "A wait that is a timer or a socket holds a thread, not a core: a thread per request \
             or an event loop both keep the quick request quick, and the event loop does it on \
             one thread (see scale.md for what each waiting request costs)."
        }
        "answer-cpu" => {
            "CPU work holds whatever thread runs it: an event loop does not help, more threads \
             help up to the cores, and an async server must hand the work to a pool."
        }
        "answer-services" => {
            "Waiting on several things at once is what an event loop does natively; a sync view \
             needs a thread per call to match it."
        }
        "answer-mistake" => {
            "One blocking call in async code holds every request on that loop; awaiting it on a \
             pool is the fix, at a thread per call in flight."
        }
        _ => {
            "Every bound makes rounds: ⌈waits / slots⌉. Tasks are not bounded by threads, but a \
             pool (of threads or connections) brings the rounds back."
        }
    };
    if agreed {
        format!("{measured} {meaning}")
    } else {
        format!(
            "{measured} This run disagreed with a prediction (✗ above): read those cells before \
             the general rule, which is: {meaning}"
        )
    }
}
