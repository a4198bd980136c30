//! `load`: each design under traffic, open loop, beside what the queueing model predicts from the
//! very same arrivals.
//!
//! For each workload (90% `/nosleep`, 10% of one kind of wait) and each design, the run first
//! measures a quick request's cost on an unloaded server (the client's part included), builds
//! the design's model ([`designs`]), and takes its capacity as the predicted knee. It then sweeps
//! offered rates of 0.25, 0.5, 0.75, 0.9 and 1.1 of that capacity (capped at what the generator
//! sends comfortably), each on a fresh server for `--duration`, after a warm-up that is not
//! counted. Each step's schedule is drawn before it runs, sent by [`load::client`], and fed to
//! [`load::model::predict`]: every percentile measured has a predicted twin.

pub(crate) mod chart;
pub mod designs;
pub(crate) mod page;

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use load::mix::{Class, Mix};
use load::schedule::{self, Arrivals, Due};
use load::stats::{Percentiles, Summary};
use serde::Serialize;

use crate::held;
use crate::report::in_seconds;
use crate::spawn::Servers;

pub use self::chart::draw;
pub use self::designs::{Cost, Design, Server, Workload};
pub use self::page::{page, METHOD};

/// The offered rates of a sweep, as shares of the predicted capacity.
pub const STEPS: [f64; 5] = [0.25, 0.5, 0.75, 0.9, 1.1];

/// The most requests a second a step offers, on new connections: the generator shares the
/// machine with the server.
pub const MAX_RATE: f64 = 2000.0;

/// Below this predicted load a step's percentiles are held to the model's.
pub const HELD_BELOW: f64 = 0.8;

/// How far a measured p99 may be from the model's, beyond the unloaded cost.
pub const WITHIN: f64 = 0.15;

/// The knee: the first rate whose quick p99 is over this many times the unloaded one.
pub const KNEE_FACTOR: f64 = 10.0;

/// One class's figures in one step: measured, and predicted from the same arrivals.
#[derive(Clone, Debug, Serialize)]
pub struct Figures {
    pub measured: Percentiles,
    pub predicted: Percentiles,
}

/// One offered rate, on one design.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub rate: f64,
    /// The model's load on the busiest station: 1 is the knee.
    pub load: f64,
    pub offered: f64,
    pub achieved: f64,
    /// The quick class, then the waiting one.
    pub classes: Vec<Figures>,
    pub failures: usize,
    pub lateness_p99_ms: f64,
    pub kept_up: bool,
    pub peak_threads: u64,
    pub peak_rss_kib: u64,
}

/// One design swept under one workload.
#[derive(Clone, Debug, Serialize)]
pub struct Sweep {
    pub workload: Workload,
    pub design: Design,
    /// What each waiting request asks for: the workload's wait, scaled.
    #[serde(rename = "wait_s", with = "in_seconds")]
    pub wait: Duration,
    /// What a quick request costs on the unloaded server.
    pub cost: Cost,
    /// A quick request's p99 on the unloaded server.
    pub unloaded_p99_ms: f64,
    /// The model's capacity: the predicted knee.
    pub capacity: f64,
    pub steps: Vec<Step>,
}

impl Sweep {
    /// What the waiting tenth waits on, and for how long.
    pub fn workload_label(&self) -> String {
        self.workload.label(self.wait)
    }

    /// Whether a step's p99s are within [`WITHIN`] of the model's (and the unloaded cost).
    pub fn holds(&self, step: &Step) -> bool {
        let slack = self.unloaded_p99_ms;
        step.kept_up
            && step.classes.iter().all(|c| {
                (c.measured.p99 - c.predicted.p99).abs() <= WITHIN * c.predicted.p99 + slack
            })
    }

    /// The first rate whose quick p99 went over [`KNEE_FACTOR`] times the unloaded one: measured,
    /// and in the model.
    pub fn knees(&self) -> (Option<f64>, Option<f64>) {
        let over = |p99: f64| p99 > KNEE_FACTOR * self.unloaded_p99_ms;
        let measured = self.steps.iter().find(|s| over(s.classes[0].measured.p99));
        let predicted = self.steps.iter().find(|s| over(s.classes[0].predicted.p99));
        (measured.map(|s| s.rate), predicted.map(|s| s.rate))
    }

    /// The highest rate swept whose quick p99 stayed under `bound_ms`: measured, and predicted.
    pub fn highest_under(&self, bound_ms: f64) -> (Option<f64>, Option<f64>) {
        let best = |pick: fn(&Step) -> f64| {
            let under = self.steps.iter().filter(|s| pick(s) < bound_ms);
            under.map(|s| s.rate).fold(None, |best: Option<f64>, r| {
                Some(best.map_or(r, |b| b.max(r)))
            })
        };
        (
            best(|s| s.classes[0].measured.p99),
            best(|s| s.classes[0].predicted.p99),
        )
    }
}

/// What `load` measured.
#[derive(Clone, Debug, Serialize)]
pub struct TrafficReport {
    /// How long each step offered its rate, after its warm-up.
    #[serde(rename = "duration_s", with = "in_seconds")]
    pub duration: Duration,
    pub sweeps: Vec<Sweep>,
    /// Workloads left out, and why.
    pub skipped: Vec<String>,
}

/// Where the servers get what the workloads need, and the seed's Python and project when its
/// designs run too (`--seed`).
pub struct Backends<'a> {
    pub database: Option<&'a str>,
    pub upstream: Option<&'a str>,
    pub seed: Option<(&'a Path, &'a Path)>,
}

/// Sweeps every design under each of `workloads`.
pub fn measure(
    servers: &Servers,
    workloads: &[Workload],
    scale: f64,
    duration: Duration,
    backends: &Backends,
) -> anyhow::Result<TrafficReport> {
    let mut report = TrafficReport {
        duration,
        sweeps: Vec::new(),
        skipped: Vec::new(),
    };
    let cores = crate::scenario::machine_cores();
    for &workload in workloads {
        let label = workload.label(workload.wait().mul_f64(scale));
        if workload.needs_database() && backends.database.is_none() {
            report
                .skipped
                .push(format!("{label}: no database (pass --spawn)"));
            continue;
        }
        if workload.needs_upstream() && backends.upstream.is_none() {
            report
                .skipped
                .push(format!("{label}: no upstream (pass --spawn)"));
            continue;
        }
        let seeded = backends.seed.map_or(&[][..], |_| &Design::SEED[..]);
        for &design in Design::ALL.iter().chain(seeded) {
            let Some(path) = workload.path(design, workload.wait().mul_f64(scale)) else {
                continue;
            };
            let sweep = sweep(
                servers, workload, design, &path, scale, duration, backends, cores,
            )?;
            println!("{}", page::sweep_text(&sweep));
            report.sweeps.push(sweep);
        }
    }
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn sweep(
    servers: &Servers,
    workload: Workload,
    design: Design,
    path: &str,
    scale: f64,
    duration: Duration,
    backends: &Backends,
    cores: usize,
) -> anyhow::Result<Sweep> {
    let mix = Mix(vec![
        Class {
            path: "/nosleep".to_owned(),
            weight: 1.0 - designs::WAITING_SHARE,
        },
        Class {
            path: path.to_owned(),
            weight: designs::WAITING_SHARE,
        },
    ]);
    let wait = workload.wait().mul_f64(scale);
    let target = start(servers, design, backends)?;
    let (cost, unloaded_p99_ms) = unloaded(servers, &target, path, wait, design.is_seed())?;
    servers.stop(&target);
    let model = workload.model(design, cost, wait, cores);
    let capacity = model.capacity(&mix.shares());
    // Capped rates that come out within 5% of the step before are one step.
    let mut rates: Vec<f64> = STEPS
        .iter()
        .map(|share| (share * capacity).min(MAX_RATE))
        .collect();
    rates.dedup_by(|later, earlier| *later < *earlier * 1.05);
    let warm_up = (duration / 5).max(Duration::from_millis(500));
    let mut steps = Vec::new();
    for (at, &rate) in rates.iter().enumerate() {
        let schedule = schedule::draw(
            rate,
            warm_up + duration,
            Arrivals::Poisson,
            &mix,
            at as u64 + 1,
        );
        let predicted = load::model::predict(&model, &schedule);
        let target = start(servers, design, backends)?;
        let pid = servers.pid(&target.url);
        let plan = plan(&target, &mix, &schedule);
        let (outcomes, held) = held::while_running(&[pid], None, || load::client::run(&plan));
        let outcomes = outcomes.context("cannot run the load client")?;
        servers.stop(&target);
        let counted = |due: &Due| due.at >= warm_up;
        let kept: Vec<_> = outcomes
            .iter()
            .filter(|o| o.due >= warm_up)
            .copied()
            .collect();
        let summary = Summary::of(&kept, &mix, duration);
        let classes = (0..mix.0.len())
            .map(|class| {
                let twins = schedule.iter().zip(&predicted);
                let mine = twins.filter(|(due, _)| counted(due) && due.class == class);
                Figures {
                    measured: summary.classes[class].latency.clone(),
                    predicted: Percentiles::of(mine.map(|(_, latency)| *latency)),
                }
            })
            .collect();
        let held = held.into_iter().next().flatten();
        steps.push(Step {
            rate,
            load: rate / capacity,
            offered: summary.offered,
            achieved: summary.achieved,
            classes,
            failures: kept.iter().filter(|o| o.result.is_err()).count(),
            lateness_p99_ms: summary.lateness.p99,
            kept_up: summary.kept_up,
            peak_threads: held.as_ref().map_or(0, |h| h.threads.peak),
            peak_rss_kib: held.as_ref().map_or(0, |h| h.rss_kib.peak),
        });
    }
    Ok(Sweep {
        workload,
        design,
        wait,
        cost,
        unloaded_p99_ms,
        capacity,
        steps,
    })
}

/// What requests cost on `target`, a fresh, unloaded server of compare's own, and a quick
/// request's p99 there. First 100
/// `/nosleep`, 5 ms apart, then 10 of the waiting request, each well after the last has ended,
/// each on a new connection. A request's time on the design's own threads (the handler threads,
/// or the event loop) is their CPU time over its part of the run, from the kernel's count in
/// nanoseconds (`schedstat`), divided among its requests; the rest of a quick request's median
/// latency is spent elsewhere. For the seed's servers (`all_threads`), every thread of the
/// process counts: Python's threads share one interpreter.
pub fn unloaded(
    servers: &Servers,
    target: &probe::Target,
    waiting: &str,
    wait: Duration,
    all_threads: bool,
) -> anyhow::Result<(Cost, f64)> {
    let pid = servers
        .pid(&target.url)
        .context("a server of compare's own")?;
    let measured =
        |path: &str, count: f64, apart: Duration| -> anyhow::Result<(Duration, Percentiles)> {
            // Built, not parsed: a path's own `=` would read as a weight.
            let mix = Mix(vec![Class {
                path: path.to_owned(),
                weight: 1.0,
            }]);
            let span = apart.mul_f64(count) + apart / 2;
            let schedule = schedule::draw(1.0 / apart.as_secs_f64(), span, Arrivals::Even, &mix, 0);
            let plan = plan(target, &mix, &schedule);
            let before = design_cpu(pid, all_threads);
            let outcomes = load::client::run(&plan).context("cannot run the load client")?;
            let cpu = design_cpu(pid, all_threads)
                .saturating_sub(before)
                .div_f64(schedule.len() as f64);
            let latency = Percentiles::of(outcomes.iter().map(|o| o.done - o.due));
            Ok((cpu, latency))
        };
    let (quick, latency) = measured("/nosleep", 100.0, Duration::from_millis(5))?;
    let (waiting_cpu, _) = measured(waiting, 10.0, wait + Duration::from_millis(20))?;
    let median = Duration::from_secs_f64(latency.p50 / 1000.0);
    let cost = Cost {
        quick,
        waiting: waiting_cpu,
        elsewhere: median.saturating_sub(quick),
    };
    Ok((cost, latency.p99))
}

/// The CPU time of the threads that make up the design's stations: the main thread (the event
/// loop, or sync-server's first handler thread) and sync-server's other handler threads, by
/// their names; or, with `all`, the whole process's, from its count in clock ticks (a
/// threaded runserver's threads end with their requests, and only the process keeps their
/// time).
fn design_cpu(pid: u32, all: bool) -> Duration {
    if all {
        return probe::process::cpu_time(pid);
    }
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    let mut total = 0u64;
    for task in tasks.flatten() {
        let path = task.path();
        let tid = task.file_name().to_string_lossy().into_owned();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if tid != pid.to_string() && !name.starts_with("handler-") {
            continue;
        }
        let schedstat = std::fs::read_to_string(path.join("schedstat")).unwrap_or_default();
        total += schedstat
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Duration::from_nanos(total)
}

/// How every run here sends `schedule` to `target`: a new connection for each request, given
/// up 10 s after it was due, never sent again.
pub fn plan<'a>(
    target: &'a probe::Target,
    mix: &'a Mix,
    schedule: &'a [Due],
) -> load::client::Plan<'a> {
    load::client::Plan {
        addr: target.addr,
        host: &target.url["http://".len()..],
        mix,
        schedule,
        keep_alive: false,
        timeout: Duration::from_secs(10),
        retries: 0,
    }
}

fn start(servers: &Servers, design: Design, backends: &Backends) -> anyhow::Result<probe::Target> {
    start_server(servers, design.server(), backends)
}

/// Starts `server` on a free port, its `/query` and `/fetch` on the backends where given.
pub fn start_server(
    servers: &Servers,
    server: Server,
    backends: &Backends,
) -> anyhow::Result<probe::Target> {
    let (binary, mut flags) = match server {
        Server::Ours(binary, flags) => (binary, flags),
        Server::Seed(stack) => {
            let seed = backends
                .seed
                .context("the seed's servers run only with --seed")?;
            return servers.start_seed(stack, seed, backends.database, backends.upstream);
        }
    };
    if let Some(url) = backends.database {
        flags.extend(["--database".to_owned(), url.to_owned()]);
    }
    if let Some(url) = backends.upstream {
        flags.extend(["--upstream".to_owned(), url.to_owned()]);
    }
    let args: Vec<&str> = flags.iter().map(String::as_str).collect();
    servers.start(binary, &args)
}
