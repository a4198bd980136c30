//! `overload`: each design past its knee, and back. Below its knee a design is quick or slow;
//! past it, what matters is whether it still serves anyone, and how soon it is itself again.
//!
//! Per design, one run on a fresh server: half its predicted capacity for T, twice it for T,
//! then half again for 2T (T is `--duration`, 10 s at `--scale 1`). The clients give up after
//! `--client-timeout` and, with `--retries`, send again at once after a timeout or a `503`. The
//! model ([`load::model::simulate`]) is fed the same arrivals before the run, and told what the
//! clients do and what the server does with a request whose client has gone or that waited past
//! `--queue-deadline`: each figure, period by period, has a predicted twin. The formulas of a
//! queue that keeps everything ([`Formula`]) are written beside them.

mod cases;
mod chart;
mod page;
mod periods;

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use load::client::{Failure, Outcome};
use load::mix::{Class, Mix};
use load::schedule::{self, Arrivals, Due};
use load::stats::Summary;
use serde::Serialize;

use self::periods::Seen;
use crate::held;
use crate::report::{in_seconds, in_seconds_if_any};
use crate::spawn::Servers;
use crate::traffic::{self, designs::WAITING_SHARE, Backends, Cost, Design, MAX_RATE};

pub use self::cases::Case;
pub use self::chart::draw;
pub use self::page::{page, run_text, METHOD};

/// What the waiting tenth asks for at `--scale 1`: a timer on the sync designs, CPU on the
/// async ones (a timer would not load an event loop at all).
const WAIT: Duration = Duration::from_millis(50);

/// The load's phases: a share of the predicted capacity, for so many T.
pub const PHASES: [(f64, u32); 3] = [(0.5, 1), (2.0, 1), (0.5, 2)];

/// Figures are gathered per tenth of T: per second at `--scale 1`.
pub const PERIODS_PER_T: u32 = 10;

/// The deadline of the designs that have one, as a share of the clients' patience.
const DEADLINE_SHARE: f64 = 0.2;

/// What the clients do, and how long each phase lasts.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Settings {
    /// T: the overload's length.
    #[serde(rename = "period_s", with = "in_seconds")]
    pub period: Duration,
    pub scale: f64,
    #[serde(rename = "client_timeout_s", with = "in_seconds")]
    pub client_timeout: Duration,
    pub retries: u32,
}

impl Settings {
    /// The deadline of the designs that have one.
    pub fn deadline(&self) -> Duration {
        self.client_timeout.mul_f64(DEADLINE_SHARE)
    }

    fn tick(&self) -> Duration {
        self.period / PERIODS_PER_T
    }
}

/// One tenth of T, as the clients saw it: rates per second, of the requests due in it.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Period {
    /// Requests sent, retries included.
    pub offered: f64,
    /// Answered `200` within the client's timeout.
    pub goodput: f64,
    /// Answered `503`.
    pub shed: f64,
    /// Given up by their clients.
    pub timed_out: f64,
    /// Refused, reset or closed without an answer.
    pub failed: f64,
    /// Of the quick requests not shed, a given-up one counted as the timeout.
    pub quick_p99_ms: Option<f64>,
}

/// The most a server held in one tenth of T.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Held {
    pub threads: u64,
    pub rss_kib: u64,
}

/// What a queue that keeps every request would do, from the formulas: the backlog grows at
/// λ − μ a second in the overload, and drains at μ − λ′ after it.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Formula {
    /// μ: the predicted capacity.
    pub capacity: f64,
    /// Without a deadline: how far into the overload the backlog's wait passes the clients'
    /// timeout, after which nothing is answered in time.
    #[serde(rename = "goodput_gone_after_s", with = "in_seconds_if_any")]
    pub goodput_gone_after: Option<Duration>,
    /// T·(λ − μ)/(μ − λ′) without a deadline; within a period with one.
    #[serde(rename = "recovery_s", with = "in_seconds")]
    pub recovery: Duration,
    /// With a deadline: the deadline plus a quick request's service.
    pub quick_p99_bound_ms: Option<f64>,
}

/// One design's run.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    pub case: Case,
    pub cost: Cost,
    /// The offered rate of each phase.
    pub rates: [f64; 3],
    pub formula: Formula,
    pub measured: Vec<Period>,
    pub predicted: Vec<Period>,
    /// What the server held at its peak in each period.
    pub held: Vec<Held>,
    pub lateness_p99_ms: f64,
    pub kept_up: bool,
}

impl Run {
    /// Goodput over the overload's periods, measured and predicted.
    pub fn goodput_in_overload(&self) -> (f64, f64) {
        let during = |periods: &[Period]| {
            let overload = &periods[PERIODS_PER_T as usize..2 * PERIODS_PER_T as usize];
            overload.iter().map(|p| p.goodput).sum::<f64>() / overload.len() as f64
        };
        (during(&self.measured), during(&self.predicted))
    }

    /// The highest of the overload's periods' quick p99s, measured and predicted.
    pub fn worst_quick_p99_in_overload(&self) -> (Option<f64>, Option<f64>) {
        let worst = |periods: &[Period]| {
            let overload = &periods[PERIODS_PER_T as usize..2 * PERIODS_PER_T as usize];
            let p99s = overload.iter().filter_map(|p| p.quick_p99_ms);
            p99s.fold(None, |worst: Option<f64>, p99| {
                Some(worst.map_or(p99, |w| w.max(p99)))
            })
        };
        (worst(&self.measured), worst(&self.predicted))
    }

    /// From the load's drop to the end of the first period whose quick p99 is back within 2×
    /// of the first phase's median period: measured and predicted (`None`: not by the end of
    /// the run).
    pub fn recovery(&self, tick: Duration) -> (Option<Duration>, Option<Duration>) {
        (
            periods::recovery(&self.measured, tick),
            periods::recovery(&self.predicted, tick),
        )
    }
}

/// At twice its capacity for longer, what each server holds.
#[derive(Clone, Debug, Serialize)]
pub struct Bounded {
    pub case: Case,
    pub rate: f64,
    #[serde(rename = "length_s", with = "in_seconds")]
    pub length: Duration,
    pub peak_rss_kib: u64,
    pub peak_threads: u64,
    /// Answered (any status), given up by the client, refused or reset.
    pub answered: usize,
    pub timed_out: usize,
    pub failed: usize,
}

/// The most RSS a server may reach in the long overload. At most `--client-timeout` worth of
/// arrivals (about 400 at `--scale 1`) is ever waiting, since their clients close the rest and
/// both servers let go of a closed connection; each costs a connection's buffers, a few KiB.
pub const RSS_BOUND_MIB: u64 = 64;

/// What `overload` measured.
#[derive(Clone, Debug, Serialize)]
pub struct OverloadReport {
    pub settings: Settings,
    pub runs: Vec<Run>,
    pub bounded: Vec<Bounded>,
}

/// Runs each case (the seed's too, given its Python and project), then the long overload on
/// each server.
pub fn measure(
    servers: &Servers,
    settings: Settings,
    seed: Option<(&Path, &Path)>,
) -> anyhow::Result<OverloadReport> {
    let backends = Backends {
        database: None,
        upstream: None,
        seed,
    };
    let cores = crate::scenario::machine_cores();
    let mut report = OverloadReport {
        settings,
        runs: Vec::new(),
        bounded: Vec::new(),
    };
    let seeded = seed.map_or(&[][..], |_| &Case::SEED[..]);
    for &case in Case::ALL.iter().chain(seeded) {
        let run = run(servers, case, &settings, &backends, cores)?;
        println!("{}", run_text(&run, &settings));
        report.runs.push(run);
    }
    // The long overload, on each server's design that sheds nothing.
    for case in [
        Case::of(Design::OneThread, false),
        Case::of(Design::EventLoop, false),
    ] {
        let run = report.runs.iter().find(|r| r.case == case);
        let rate = run.map_or(0.0, |r| r.rates[1]);
        let bounded = hold(servers, case, rate, &settings, &backends)?;
        println!("{}", page::bounded_text(&bounded));
        report.bounded.push(bounded);
    }
    Ok(report)
}

/// The quick requests and the case's waiting ones.
fn mix(case: Case, settings: &Settings) -> Mix {
    let wait = WAIT.mul_f64(settings.scale);
    let path = case
        .workload()
        .path(case.design, wait)
        .expect("every case has a waiting request");
    Mix(vec![
        Class {
            path: "/nosleep".to_owned(),
            weight: 1.0 - WAITING_SHARE,
        },
        Class {
            path,
            weight: WAITING_SHARE,
        },
    ])
}

fn run(
    servers: &Servers,
    case: Case,
    settings: &Settings,
    backends: &Backends,
    cores: usize,
) -> anyhow::Result<Run> {
    let mix = mix(case, settings);
    let wait = WAIT.mul_f64(settings.scale);
    let start = || traffic::start_server(servers, case.server(settings), backends);
    let fresh = start()?;
    let seed = case.design.is_seed();
    let (cost, _) = traffic::unloaded(servers, &fresh, &mix.0[1].path, wait, seed)?;
    servers.stop(&fresh);
    let model = case.workload().model(case.design, cost, wait, cores);
    let capacity = model.capacity(&mix.shares());
    let rates = PHASES.map(|(share, _)| (share * capacity).min(MAX_RATE));
    let patience = case.patience(settings);
    // The prediction, before the run.
    let schedule = phases(&mix, rates, settings.period);
    let predicted = load::model::simulate(&model, &schedule, &patience);
    let formula = formula(capacity, rates, patience.deadline, cost, settings);
    let target = start()?;
    let pid = servers
        .pid(&target.url)
        .context("a server of compare's own")?;
    let plan = load::client::Plan {
        timeout: settings.client_timeout,
        retries: settings.retries,
        ..traffic::plan(&target, &mix, &schedule)
    };
    let (outcomes, samples) = held::sampled(pid, settings.tick() / 5, || load::client::run(&plan));
    let outcomes = outcomes.context("cannot run the load client")?;
    servers.stop(&target);
    let length = settings.period * 4;
    let summary = Summary::of(&outcomes, &mix, length);
    let seen_measured: Vec<Seen> = outcomes.iter().map(Seen::measured).collect();
    let seen_predicted: Vec<Seen> = predicted.iter().map(Seen::predicted).collect();
    Ok(Run {
        case,
        cost,
        rates,
        formula,
        measured: periods::of(&seen_measured, settings),
        predicted: periods::of(&seen_predicted, settings),
        held: periods::held(&samples, settings),
        lateness_p99_ms: summary.lateness.p99,
        kept_up: summary.kept_up,
    })
}

/// The three phases' arrivals, one after another, each drawn from a seed of its own.
fn phases(mix: &Mix, rates: [f64; 3], period: Duration) -> Vec<Due> {
    let mut schedule = Vec::new();
    let mut offset = Duration::ZERO;
    for (seed, (&rate, (_, length))) in rates.iter().zip(PHASES).enumerate() {
        let length = period * length;
        let drawn = schedule::draw(rate, length, Arrivals::Poisson, mix, seed as u64 + 1);
        schedule.extend(drawn.into_iter().map(|due| Due {
            at: due.at + offset,
            ..due
        }));
        offset += length;
    }
    schedule
}

fn formula(
    capacity: f64,
    [_, over, after]: [f64; 3],
    deadline: Option<Duration>,
    cost: Cost,
    settings: &Settings,
) -> Formula {
    let period = settings.period.as_secs_f64();
    match deadline {
        None => Formula {
            capacity,
            // The backlog (λ − μ)t waits (λ − μ)t/μ: past the timeout when t = timeout·μ/(λ − μ).
            goodput_gone_after: (over > capacity).then(|| {
                settings
                    .client_timeout
                    .mul_f64(capacity / (over - capacity))
            }),
            recovery: Duration::from_secs_f64(
                (period * (over - capacity).max(0.0) / (capacity - after)).max(0.0),
            ),
            quick_p99_bound_ms: None,
        },
        Some(deadline) => Formula {
            capacity,
            goodput_gone_after: None,
            recovery: settings.tick(),
            quick_p99_bound_ms: Some(
                (deadline + cost.quick + cost.elsewhere).as_secs_f64() * 1000.0,
            ),
        },
    }
}

/// The long overload: `case` at `rate` for 6T (60 s at `--scale 1`), reading what its server
/// holds.
fn hold(
    servers: &Servers,
    case: Case,
    rate: f64,
    settings: &Settings,
    backends: &Backends,
) -> anyhow::Result<Bounded> {
    let mix = mix(case, settings);
    let length = settings.period * 6;
    let schedule = schedule::draw(rate, length, Arrivals::Poisson, &mix, 7);
    let target = traffic::start_server(servers, case.server(settings), backends)?;
    let pid = servers
        .pid(&target.url)
        .context("a server of compare's own")?;
    let plan = load::client::Plan {
        timeout: settings.client_timeout,
        ..traffic::plan(&target, &mix, &schedule)
    };
    let (outcomes, samples) = held::sampled(pid, settings.tick(), || load::client::run(&plan));
    let outcomes = outcomes.context("cannot run the load client")?;
    servers.stop(&target);
    let count = |pick: fn(&Outcome) -> bool| outcomes.iter().filter(|o| pick(o)).count();
    Ok(Bounded {
        case,
        rate,
        length,
        peak_rss_kib: samples.iter().map(|s| s.rss_kib).max().unwrap_or(0),
        peak_threads: samples.iter().map(|s| s.threads).max().unwrap_or(0),
        answered: count(|o| o.result.is_ok()),
        timed_out: count(|o| o.result == Err(Failure::TimedOut)),
        failed: count(|o| o.result.is_err() && o.result != Err(Failure::TimedOut)),
    })
}
