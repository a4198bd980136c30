//! The experiments: which requests to send, when, and what each one measured.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use probe::{Exchange, Failure, Target};

/// The seed's sleep, before `--scale`.
pub const SEED_SLEEP: Duration = Duration::from_secs(5);
/// When the seed sends its second request, before `--scale`.
pub const SEED_OFFSET: Duration = Duration::from_secs(2);

/// An experiment: requests to send to one server, each at its own moment.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub requests: Vec<Planned>,
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
        Planned {
            path: format!("/sleep?seconds={}", seconds.as_secs_f64()),
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
            requests: vec![
                Planned::sleep(sleep, Duration::ZERO),
                Planned::nosleep(offset),
            ],
        },
        Scenario {
            name: "seed-sleep".to_owned(),
            description: when("a second /sleep"),
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
        requests: (0..count)
            .map(|_| Planned::sleep(sleep, Duration::ZERO))
            .collect(),
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

/// Sends every request of `scenario` to each server at its moment, all servers at once, each
/// request on its own thread and connection. `answered` counts finished requests, for progress.
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
