//! What an experiment is (its lanes, requests and predictions), and running one: which requests
//! to send, when, and what each one measured. The experiments themselves are in
//! [`crate::experiments`]; the servers they run on in [`crate::role`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use probe::{Exchange, Failure, Target};

use crate::role::Role;
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
