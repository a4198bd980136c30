//! What an experiment is (its lanes, requests and predictions), and running one: which requests
//! to send, when, and what each one measured. The experiments themselves are in
//! [`crate::scenarios`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use probe::seed::Stack;
use probe::{Exchange, Failure, Target};

use crate::verdict::JudgedBy;

/// The seed's sleep, before `--scale`.
pub const SEED_SLEEP: Duration = Duration::from_secs(5);
/// When the seed sends its second request, before `--scale`.
pub const SEED_OFFSET: Duration = Duration::from_secs(2);

/// How long the CPU-bound scenarios' work takes, before `--scale`: each `/compute` uses this much
/// CPU time, each sleep of `pool` lasts this long.
pub const COMPUTE: Duration = Duration::from_secs(2);

/// An experiment: requests to send, each at its own moment, to each of some servers (its
/// lanes), and what the arithmetic of threads, tasks and cores predicts for each.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// The requests each lane sends, unless the lane has its own.
    pub requests: Vec<Planned>,
    /// The servers, in the order they are reported, each with its prediction.
    pub lanes: Vec<Lane>,
    /// Run on one server after the other, not on all at once: CPU-bound work on one would take
    /// cores from the other.
    pub apart: bool,
}

/// One server of a scenario: which, what it is predicted to do, and, when it is sent the same
/// work by another route, its own requests.
#[derive(Clone, Debug)]
pub struct Lane {
    pub role: Role,
    pub prediction: Prediction,
    pub requests: Option<Vec<Planned>>,
    /// Which requests' delays say whether it blocked.
    pub judged_by: JudgedBy,
}

impl Lane {
    pub(crate) fn new(role: Role, prediction: Prediction) -> Lane {
        Lane {
            role,
            prediction,
            requests: None,
            judged_by: JudgedBy::AnyRequest,
        }
    }
}

/// What a server should do with a scenario, worked out before it runs.
#[derive(Clone, Debug)]
pub struct Prediction {
    /// Whether some request will wait behind others (or for a core).
    pub blocked: bool,
    /// How long all requests take, from the first sent to the last answered, where that is the
    /// point.
    pub wall: Option<Duration>,
    /// The arithmetic, in a few words.
    pub why: String,
    /// How many requests the database will refuse (answered `500` or `503` at once), where
    /// more are sent than it takes connections.
    pub refused: usize,
}

impl Prediction {
    pub(crate) fn blocked(why: impl Into<String>) -> Prediction {
        Prediction {
            blocked: true,
            wall: None,
            why: why.into(),
            refused: 0,
        }
    }

    pub(crate) fn not_blocked(why: impl Into<String>) -> Prediction {
        Prediction {
            blocked: false,
            wall: None,
            why: why.into(),
            refused: 0,
        }
    }

    /// `count` requests of `each` on `lanes` threads (or cores) at once: ⌈count/lanes⌉ rounds.
    pub(crate) fn rounds(
        count: usize,
        lanes: usize,
        each: Duration,
        lanes_are: &str,
    ) -> Prediction {
        let rounds = count.div_ceil(lanes.max(1));
        Prediction {
            blocked: rounds > 1,
            wall: Some(each * rounds as u32),
            why: format!(
                "{count} of {} on {lanes} {lanes_are}: ⌈{count}/{lanes}⌉ = {rounds} round{}",
                seconds_text(each),
                if rounds == 1 { "" } else { "s" }
            ),
            refused: 0,
        }
    }
}

pub(crate) fn seconds_text(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

/// The cores of this machine, which the CPU-bound predictions divide by (the servers are
/// assumed to run here, as with `--spawn`).
pub fn machine_cores() -> usize {
    thread::available_parallelism().map_or(1, usize::from)
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
    /// `async-server --blocking-threads 2 --db-pool 2`: bounded pools of two.
    AsyncPool,
    /// `sync-server --threads 8`, for `db-pool`: a thread, and a connection, per request.
    SyncMany,
    /// `sync-server` with one handler thread, sent `/fetch?via=threads`, for `calls`: a
    /// scoped thread per call.
    SyncCallThreads,
    /// `async-server --db-pool 10`, for `db-limit`: a pool well inside the database's limit.
    AsyncLimitPool,
    /// `sync-server --threads 30`, for `db-limit`: more threads than the database takes
    /// connections.
    SyncLimitThreads,
    /// The seed's `manage.py runserver --nothreading`, sync views (`--seed`).
    DjangoSync,
    /// The seed's project on Django's default threaded `runserver` (`--seed`).
    DjangoThreads,
    /// The seed's `uvicorn --workers 1`, async views; `/query` awaits `sync_to_async` (`--seed`).
    DjangoAsync,
}

/// How many threads the bounded blocking pool of `pool` has, and how many connections the
/// database pool of `db-pool`.
pub const POOL: usize = 2;

/// How many handler threads the sync server of `db-pool` runs: as many as its queries.
pub const MANY_THREADS: usize = 4 * POOL;

/// The `max_connections` of the cluster `db-limit` starts for itself.
pub const DB_LIMIT: usize = 20;
/// How many `/query` `db-limit` sends at once: half as many again as the database takes.
pub const LIMIT_REQUESTS: usize = DB_LIMIT * 3 / 2;
/// How many more `/query` `db-limit` sends once the burst is over.
pub const LIMIT_LATER: usize = 4;
/// The database pool of `db-limit`'s async-server: well inside the limit.
pub const LIMIT_POOL: usize = DB_LIMIT / 2;

/// How many handler threads the threaded sync server runs, and the `threads` scenario tests.
pub const THREADS: usize = 4;

impl Role {
    /// Its short name, in verdicts and the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Role::Sync => "sync",
            Role::Async => "async",
            Role::SyncThreads => "sync-threads",
            Role::AsyncPool => "async-pool",
            Role::SyncMany => "sync-many",
            Role::SyncCallThreads => "sync-via-threads",
            Role::AsyncLimitPool => "async-pool-10",
            Role::SyncLimitThreads => "sync-threads-30",
            Role::DjangoSync => "django-sync",
            Role::DjangoThreads => "django-threads",
            Role::DjangoAsync => "django-async",
        }
    }

    /// The role of a short name, as [`Role::name`] gives it.
    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.name() == name)
    }

    /// Every role.
    pub const ALL: [Role; 11] = [
        Role::Sync,
        Role::Async,
        Role::SyncThreads,
        Role::AsyncPool,
        Role::SyncMany,
        Role::SyncCallThreads,
        Role::AsyncLimitPool,
        Role::SyncLimitThreads,
        Role::DjangoSync,
        Role::DjangoThreads,
        Role::DjangoAsync,
    ];

    /// The seed's server it is, if it is one of the seed's.
    pub fn seed_stack(self) -> Option<Stack> {
        match self {
            Role::DjangoSync => Some(Stack::Runserver),
            Role::DjangoThreads => Some(Stack::ThreadedRunserver),
            Role::DjangoAsync => Some(Stack::Uvicorn),
            _ => None,
        }
    }

    /// The command that starts it where `compare` looks for it by default.
    pub fn start_hint(self) -> String {
        let port = match self {
            Role::Sync | Role::Async => return format!("cargo run --release -p {}", self.binary()),
            Role::DjangoSync | Role::DjangoThreads | Role::DjangoAsync => {
                return "compare starts the seed's servers itself: pass --spawn --seed".to_owned()
            }
            Role::SyncThreads => 8002,
            Role::AsyncPool => 8003,
            Role::SyncMany => 8004,
            Role::SyncCallThreads => 8005,
            Role::AsyncLimitPool | Role::SyncLimitThreads => {
                return "compare starts db-limit's servers itself: pass --spawn".to_owned()
            }
        };
        let flags = self.flags().join(" ");
        format!(
            "cargo run --release -p {} -- {flags} --port {port}",
            self.binary()
        )
    }

    /// How it runs: its binary and flags.
    pub fn command(self) -> String {
        if let Some(stack) = self.seed_stack() {
            return stack.command().to_owned();
        }
        [self.binary().to_owned()]
            .into_iter()
            .chain(self.flags())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The flags `--spawn` starts it with: its threads and pools, from the counts the
    /// predictions are worked out with.
    pub fn flags(self) -> Vec<String> {
        let flags: Vec<(&str, usize)> = match self {
            Role::Sync | Role::Async | Role::SyncCallThreads => vec![],
            Role::DjangoSync | Role::DjangoThreads | Role::DjangoAsync => vec![],
            Role::SyncThreads => vec![("--threads", THREADS)],
            Role::AsyncPool => vec![("--blocking-threads", POOL), ("--db-pool", POOL)],
            Role::SyncMany => vec![("--threads", MANY_THREADS)],
            Role::AsyncLimitPool => vec![("--db-pool", LIMIT_POOL)],
            Role::SyncLimitThreads => vec![("--threads", LIMIT_REQUESTS)],
        };
        let pairs = flags.into_iter();
        pairs
            .flat_map(|(flag, count)| [flag.to_owned(), count.to_string()])
            .collect()
    }

    /// The binary that runs it (for the seed's, the Python that runs Django).
    pub fn binary(self) -> &'static str {
        match self {
            Role::DjangoSync | Role::DjangoThreads | Role::DjangoAsync => "python",
            Role::Sync
            | Role::SyncThreads
            | Role::SyncMany
            | Role::SyncCallThreads
            | Role::SyncLimitThreads => "sync-server",
            Role::Async | Role::AsyncPool | Role::AsyncLimitPool => "async-server",
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
    pub(crate) fn sleep(seconds: Duration, at: Duration) -> Planned {
        Planned::waiting("/sleep", seconds, at)
    }

    pub(crate) fn waiting(route: &str, seconds: Duration, at: Duration) -> Planned {
        Planned {
            path: format!("{route}?seconds={}", seconds.as_secs_f64()),
            at,
            work: seconds,
        }
    }

    pub(crate) fn nosleep(at: Duration) -> Planned {
        Planned {
            path: "/nosleep".to_owned(),
            at,
            work: Duration::ZERO,
        }
    }
}

impl Scenario {
    /// The requests `role` gets instead of the scenario's own (the same work, by another route).
    pub(crate) fn with_requests_for(mut self, role: Role, requests: Vec<Planned>) -> Scenario {
        let lane = self.lanes.iter_mut().find(|lane| lane.role == role);
        lane.expect("a lane of the scenario").requests = Some(requests);
        self
    }

    /// The same scenario without the seed's servers' lanes, for a run without `--seed`.
    pub(crate) fn without_seed(mut self) -> Scenario {
        self.lanes.retain(|lane| lane.role.seed_stack().is_none());
        self
    }

    /// The same scenario, each server judged by its quick requests alone.
    pub(crate) fn judged_by_quick_requests(mut self) -> Scenario {
        for lane in &mut self.lanes {
            lane.judged_by = JudgedBy::QuickRequests;
        }
        self
    }

    /// Whether a `5xx` answer is an outcome to count rather than a failure: when some lane is
    /// predicted to have requests refused.
    pub fn counts_refusals(&self) -> bool {
        self.lanes.iter().any(|lane| lane.prediction.refused > 0)
    }

    /// Whether its servers need a database (`--database`): whether any of them is asked for a
    /// query.
    pub fn needs_database(&self) -> bool {
        let mut paths = self.roles().flat_map(|role| self.requests_for(role));
        paths.any(|planned| {
            planned.path.starts_with("/query") || planned.path.contains("work=query")
        })
    }

    /// Whether its servers need an upstream (`--upstream`): whether any of them is asked to
    /// fetch.
    pub fn needs_upstream(&self) -> bool {
        let mut paths = self.roles().flat_map(|role| self.requests_for(role));
        paths.any(|planned| planned.path.starts_with("/fetch"))
    }

    /// The servers, in order.
    pub fn roles(&self) -> impl Iterator<Item = Role> + Clone + '_ {
        self.lanes.iter().map(|lane| lane.role)
    }

    /// The lane of `role`.
    pub fn lane(&self, role: Role) -> &Lane {
        let lane = self.lanes.iter().find(|lane| lane.role == role);
        lane.expect("a server of the scenario")
    }

    /// The requests sent to `role`.
    pub fn requests_for(&self, role: Role) -> &[Planned] {
        self.lane(role)
            .requests
            .as_deref()
            .unwrap_or(&self.requests)
    }

    /// How long a request may take before it counts as unanswered: long enough for a server
    /// that runs every request of the scenario one after another, and then some.
    pub fn patience(&self) -> Duration {
        let all = self.roles().flat_map(|role| self.requests_for(role));
        let last = all.clone().map(|r| r.at).max().unwrap_or_default();
        let all_work: Duration = all.map(|r| r.work).sum();
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

    /// Answered in full with a server error (`500`, `503`): refused, not lost.
    pub fn refused(&self) -> bool {
        matches!(&self.answer, Ok(answered) if answered.status >= 500)
    }
}

/// Sends every request of `scenario` to each of `servers` (its own, in order) at its moment, all
/// servers at once, each request on its own thread and connection. `answered` counts finished
/// requests, for progress.
pub fn run(
    scenario: &Scenario,
    servers: &[(Role, &Target)],
    answered: &AtomicUsize,
) -> Vec<Vec<Measured>> {
    let start = Instant::now();
    let deadline = start + scenario.patience();
    thread::scope(|scope| {
        let pending: Vec<Vec<_>> = servers
            .iter()
            .map(|&(role, server)| {
                let requests = scenario.requests_for(role).iter().map(|planned| {
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
