//! The answer page's rows and columns: the designs, and for each kind of wait the scenario
//! that asks every design at once, with its predictions.

use std::time::Duration;

use crate::predictions::{beside_quick, Wait};
use crate::role::{Role, POOL, THREADS};
use crate::scenario::{seconds_text, Lane, Planned, Prediction, Scenario, COMPUTE};
use crate::traffic::Design;

/// The designs, the table's columns: each the server that runs its row, and the design of
/// `load` and `overload` it is (named by it).
pub const DESIGNS: [(Role, Design); 7] = [
    (Role::Sync, Design::OneThread),
    (Role::SyncThreads, Design::FourThreads),
    (Role::Async, Design::EventLoop),
    (Role::AsyncPool, Design::OffloadPool),
    (Role::DjangoSync, Design::DjangoSync),
    (Role::DjangoThreads, Design::DjangoThreads),
    (Role::DjangoAsync, Design::DjangoAsync),
];

/// A row of the table: what the view waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Row {
    Timer,
    Cpu,
    Database,
    Service,
    Services,
    Mistake,
    Pool,
}

impl Row {
    pub const ALL: [Row; 7] = [
        Row::Timer,
        Row::Cpu,
        Row::Database,
        Row::Service,
        Row::Services,
        Row::Mistake,
        Row::Pool,
    ];

    fn key(self) -> &'static str {
        match self {
            Row::Timer => "timer",
            Row::Cpu => "cpu",
            Row::Database => "database",
            Row::Service => "service",
            Row::Services => "services",
            Row::Mistake => "mistake",
            Row::Pool => "pool",
        }
    }

    /// The name of its scenario: `answer-` and the row's key.
    pub fn scenario_name(self) -> String {
        format!("answer-{}", self.key())
    }

    /// The row a scenario of the page is, by its name.
    pub fn of(scenario_name: &str) -> Option<Row> {
        let key = scenario_name.strip_prefix("answer-")?;
        Row::ALL.into_iter().find(|row| row.key() == key)
    }

    /// The question it answers: what the view waits on.
    pub fn question(self) -> &'static str {
        match self {
            Row::Timer => "a timer",
            Row::Cpu => "CPU",
            Row::Database => "a database",
            Row::Service => "another service",
            Row::Services => "several services at once",
            Row::Mistake => "a blocking call in async code, by mistake",
            Row::Pool => "a bounded pool",
        }
    }

    /// What it means for a choice, said under the first row it applies to.
    pub fn lesson(self) -> &'static str {
        match self {
            Row::Timer | Row::Database | Row::Service => {
                "A wait that is a timer or a socket holds a thread, not a core: a thread per \
                 request or an event loop both keep the quick request quick, and the event loop \
                 does it on one thread (see scale.md for what each waiting request costs)."
            }
            Row::Cpu => {
                "CPU work holds whatever thread runs it: an event loop does not help, more \
                 threads help up to the cores, and an async server must hand the work to a pool."
            }
            Row::Services => {
                "Waiting on several things at once is what an event loop does natively; a sync \
                 view needs a thread per call to match it."
            }
            Row::Mistake => {
                "One blocking call in async code holds every request on that loop; awaiting it \
                 on a pool is the fix, at a thread per call in flight."
            }
            Row::Pool => {
                "Every bound makes rounds: ⌈waits / slots⌉. Tasks are not bounded by threads, \
                 but a pool (of threads or connections) brings the rounds back."
            }
        }
    }

    /// Why `role` has no cell in this row; `seeded`: whether the run had the seed's servers.
    pub fn not_run(self, role: Role, seeded: bool) -> &'static str {
        let threads_only = matches!(
            role,
            Role::Sync | Role::SyncThreads | Role::DjangoSync | Role::DjangoThreads
        );
        match role {
            _ if self == Row::Mistake && threads_only => {
                "— (a thread may block: it has no event loop to hold)"
            }
            Role::DjangoSync | Role::DjangoThreads | Role::DjangoAsync if !seeded => {
                "— (with --seed)"
            }
            Role::AsyncPool => "— (no blocking client to offload: the async one is awaited)",
            _ => "—",
        }
    }
}

/// How many calls the row of several services makes, and how many waits the pool row sends.
pub(super) const CALLS: u32 = 3;
pub(super) const CROWD: usize = 8;

/// A lane for each design that has a request waiting on `wait`, with its prediction (written
/// once, in [`crate::predictions`]).
fn every_design(wait: Wait) -> Vec<Lane> {
    DESIGNS
        .iter()
        .filter_map(|&(role, design)| Some(Lane::new(role, beside_quick(wait, design)?)))
        .collect()
}

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
    let row = |row: Row, description: String, requests, lanes: Vec<Lane>| {
        Scenario {
            name: row.scenario_name(),
            description,
            requests,
            lanes,
            apart: row == Row::Cpu,
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
            Row::Timer,
            waits_on("/sleep"),
            with_quick(one("/sleep")),
            every_design(Wait::Timer),
        )
        .with_requests_for(Role::AsyncPool, with_quick(offload(""))),
        row(
            Row::Cpu,
            waits_on("/compute"),
            with_quick(one("/compute")),
            every_design(Wait::Cpu),
        )
        .with_requests_for(Role::AsyncPool, with_quick(offload("&work=compute"))),
        row(
            Row::Database,
            waits_on("/query"),
            with_quick(one("/query")),
            every_design(Wait::Database),
        )
        .with_requests_for(Role::AsyncPool, with_quick(offload("&work=query"))),
        row(
            Row::Service,
            waits_on("/fetch"),
            with_quick(one("/fetch")),
            every_design(Wait::Service),
        ),
        row(
            Row::Services,
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
            Row::Mistake,
            waits_on("/block (a blocking sleep in the async handler)"),
            with_quick(one("/block")),
            every_design(Wait::Block),
        )
        .with_requests_for(Role::AsyncPool, with_quick(offload(""))),
        row(
            Row::Pool,
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
