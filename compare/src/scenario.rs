//! The experiments: which requests to send, when, and what each one measured.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use probe::{Exchange, Failure, Target};

/// The seed's sleep, before `--scale`.
pub const SEED_SLEEP: Duration = Duration::from_secs(5);
/// When the seed sends its second request, before `--scale`.
pub const SEED_OFFSET: Duration = Duration::from_secs(2);

/// An experiment: requests to send, each at its own moment, to each of some servers.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub servers: Vec<Role>,
    pub requests: Vec<Planned>,
}

/// A server as the scenarios use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// `sync-server`, one handler thread.
    Sync,
    /// `async-server`, one worker.
    Async,
    /// `sync-server --threads 4`.
    SyncThreads,
}

/// How many handler threads the threaded sync server runs, and the `threads` scenario tests.
pub const THREADS: usize = 4;

impl Role {
    /// Its short name, in verdicts and the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Role::Sync => "sync",
            Role::Async => "async",
            Role::SyncThreads => "sync-threads",
        }
    }

    /// The command that starts it where `compare` looks for it by default.
    pub fn start_hint(self) -> &'static str {
        match self {
            Role::Sync => "cargo run --release -p sync-server",
            Role::Async => "cargo run --release -p async-server",
            Role::SyncThreads => "cargo run --release -p sync-server -- --threads 4 --port 8002",
        }
    }

    /// How it runs.
    pub fn command(self) -> &'static str {
        match self {
            Role::Sync => "sync-server",
            Role::Async => "async-server",
            Role::SyncThreads => "sync-server --threads 4",
        }
    }
}

/// One request of a scenario.
#[derive(Clone, Debug)]
pub struct Planned {
    pub path: String,
    /// When to send it, from the scenario's start.
    pub at: Duration,
    /// How long the server's handler itself waits for it (its own sleep).
    pub work: Duration,
}

impl Planned {
    fn sleep(seconds: Duration, at: Duration) -> Planned {
        Planned::waiting("/sleep", seconds, at)
    }

    fn waiting(route: &str, seconds: Duration, at: Duration) -> Planned {
        Planned {
            path: format!("{route}?seconds={}", seconds.as_secs_f64()),
            at,
            work: seconds,
        }
    }

    fn nosleep(at: Duration) -> Planned {
        Planned {
            path: "/nosleep".to_owned(),
            at,
            work: Duration::ZERO,
        }
    }
}

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
            servers: vec![Role::Sync, Role::Async],
            requests: vec![
                Planned::sleep(sleep, Duration::ZERO),
                Planned::nosleep(offset),
            ],
        },
        Scenario {
            name: "seed-sleep".to_owned(),
            description: when("a second /sleep"),
            servers: vec![Role::Sync, Role::Async],
            requests: vec![
                Planned::sleep(sleep, Duration::ZERO),
                Planned::sleep(sleep, offset),
            ],
        },
    ]
}

/// `count` `/sleep` requests sent at once.
pub fn fanout(count: usize, scale: f64) -> Scenario {
    let sleep = SEED_SLEEP.mul_f64(scale);
    Scenario {
        name: "fanout".to_owned(),
        description: format!("{count} /sleep ({} s) at once", sleep.as_secs_f64()),
        servers: vec![Role::Sync, Role::Async],
        requests: (0..count)
            .map(|_| Planned::sleep(sleep, Duration::ZERO))
            .collect(),
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
        servers: vec![Role::Sync, Role::SyncThreads],
        requests: (0..THREADS)
            .map(|_| Planned::sleep(sleep, Duration::ZERO))
            .collect(),
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
        servers: vec![Role::Async],
        requests: vec![
            Planned::waiting(route, sleep, Duration::ZERO),
            Planned::nosleep(offset),
        ],
    }
}

impl Scenario {
    /// How long a request may take before it counts as unanswered: long enough for a server
    /// that runs every request of the scenario one after another, and then some.
    pub fn patience(&self) -> Duration {
        let last = self.requests.iter().map(|r| r.at).max().unwrap_or_default();
        let all_work: Duration = self.requests.iter().map(|r| r.work).sum();
        last + all_work + Duration::from_secs(10)
    }
}

/// What one request measured. Times are from the scenario's start.
#[derive(Clone, Debug)]
pub struct Measured {
    pub planned: Planned,
    pub sent: Duration,
    pub answer: Result<Answered, String>,
}

#[derive(Clone, Debug)]
pub struct Answered {
    pub at: Duration,
    pub status: u16,
    pub pid: Option<u32>,
    pub tid: Option<u64>,
    pub work_tid: Option<u64>,
}

impl Measured {
    fn from(planned: &Planned, start: Instant, exchange: Result<Exchange, Failure>) -> Measured {
        let since_start = |moment: Instant| moment.saturating_duration_since(start);
        match exchange {
            Ok(exchange) => Measured {
                planned: planned.clone(),
                sent: since_start(exchange.sent_at),
                answer: Ok(Answered {
                    at: since_start(exchange.answered_at),
                    status: exchange.status,
                    pid: exchange.pid(),
                    tid: exchange.tid(),
                    work_tid: exchange.work_tid(),
                }),
            },
            Err(failure) => Measured {
                planned: planned.clone(),
                sent: planned.at,
                answer: Err(failure.to_string()),
            },
        }
    }

    /// From the first byte sent to the last byte received.
    pub fn latency(&self) -> Option<Duration> {
        let answered = self.answer.as_ref().ok()?;
        Some(answered.at.saturating_sub(self.sent))
    }

    /// How much longer than its own work the request took: time spent waiting on others.
    pub fn delay(&self) -> Option<Duration> {
        Some(self.latency()?.saturating_sub(self.planned.work))
    }

    /// Answered, and with `200`.
    pub fn succeeded(&self) -> bool {
        matches!(&self.answer, Ok(answered) if answered.status == 200)
    }
}

/// Sends every request of `scenario` to each of `servers` (its own, in order) at its moment, all
/// servers at once, each request on its own thread and connection. `answered` counts finished
/// requests, for progress.
pub fn run(scenario: &Scenario, servers: &[&Target], answered: &AtomicUsize) -> Vec<Vec<Measured>> {
    let start = Instant::now();
    let deadline = start + scenario.patience();
    thread::scope(|scope| {
        let pending: Vec<Vec<_>> = servers
            .iter()
            .map(|server| {
                let requests = scenario.requests.iter().map(|planned| {
                    scope.spawn(move || {
                        thread::sleep(
                            (start + planned.at).saturating_duration_since(Instant::now()),
                        );
                        let exchange = server.get(&planned.path, deadline);
                        answered.fetch_add(1, Ordering::Relaxed);
                        Measured::from(planned, start, exchange)
                    })
                });
                requests.collect()
            })
            .collect();
        pending
            .into_iter()
            .map(|requests| {
                requests
                    .into_iter()
                    .map(|request| request.join().expect("a request thread panicked"))
                    .collect()
            })
            .collect()
    })
}
