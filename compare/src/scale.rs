//! `scale`: what a waiting request costs with a thread per request against a task per request,
//! as the number of waiting requests grows. `fetch-scale` is the same with `/fetch`, each
//! request a call to an upstream, whose sockets are counted too.
//!
//! N requests, each `/sleep` for d seconds, all at once (from one client thread,
//! [`probe::crowd`]): to `sync-server --threads N`, to `async-server`, and to `sync-server` with
//! one thread (with a few requests, since N would take N·d seconds; its prediction for N is shown
//! beside). N requests of d seconds on T threads take ⌈N/T⌉·d. Each server's memory and OS
//! threads are sampled from `/proc` while the crowd waits, and a `/nosleep` is timed meanwhile.
//! The servers run one after another, so that none takes a core from another.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use probe::crowd::{self, Measured};
use probe::Target;
use serde::Serialize;

use crate::verdict::seconds;

/// The sleep of each request, before `--scale`.
pub const SLEEP: Duration = Duration::from_secs(2);

/// How many requests the one-thread server gets: enough to show the queue, few enough to end.
pub const ONE_THREAD_REQUESTS: usize = 5;

/// How every figure of `scale` was measured.
pub const METHOD: &str = "All requests sent at once, each on its own connection, from one \
    tokio current_thread client; wall time from the first sent to the last answered; latency from \
    the request sent to the answer read; peak RSS, OS threads and descriptors: the most of \
    /proc/<pid>/status VmRSS and Threads and of /proc/<pid>/fd sampled every 10 ms while the \
    requests wait, the server found by the X-Pid of its answers (so on this machine); sockets to \
    the upstream: its /proc/<pid>/fd sockets whose peer is the upstream's port in /proc/net/tcp; \
    RSS per waiting request: (peak - idle) / requests; \
    /nosleep: asked one at a time on new connections while the sleeps wait. The servers run one \
    after another. A prediction holds when the wall time is from 0.8 to 1.5 times the predicted.";

#[derive(Debug, Serialize)]
pub struct ScaleReport {
    /// `scale` or `fetch-scale`.
    pub name: &'static str,
    /// What each request asks: `/sleep`, or `/fetch` (one call upstream).
    pub route: &'static str,
    pub requests: usize,
    pub sleep_s: f64,
    pub method: &'static str,
    pub servers: Vec<ScaleServer>,
}

#[derive(Debug, Serialize)]
pub struct ScaleServer {
    /// How it was run: `sync-server --threads 1000`, say.
    pub command: String,
    pub url: String,
    /// The threads that run handlers (`None`: a task per request, on one thread).
    pub handler_threads: Option<usize>,
    /// How many requests it was sent.
    pub requests: usize,
    /// ⌈requests / threads⌉ · sleep.
    pub predicted_wall_s: f64,
    /// For the N requests of the scenario, where the server was sent fewer.
    pub predicted_wall_for_all_s: Option<f64>,
    pub measured: Measured,
    pub idle_rss_kib: u64,
    pub peak_rss_kib: u64,
    pub rss_per_request_kib: f64,
    pub idle_os_threads: u64,
    pub peak_os_threads: u64,
    pub idle_descriptors: usize,
    pub peak_descriptors: usize,
    /// The most sockets to the upstream open at once (`fetch-scale`).
    pub peak_upstream_sockets: Option<usize>,
    /// Its `--upstream-connections`, where that bounds the rounds.
    pub upstream_connections: Option<usize>,
    pub as_predicted: bool,
    /// Why not every request was answered, where one was not.
    pub note: Option<String>,
}

/// Who to measure: a server, what it runs handlers on, and how many requests to send it.
pub struct Subject<'a> {
    pub command: String,
    pub target: &'a Target,
    pub handler_threads: Option<usize>,
    /// Its `--upstream-connections`, where fewer than the requests: calls take turns on them.
    pub upstream_connections: Option<usize>,
    pub requests: usize,
}

/// What to send: `route` (`/sleep`, or `/fetch` to an upstream on `upstream_port`), `requests`
/// of them each waiting `sleep`.
pub struct Crowd {
    pub name: &'static str,
    pub route: &'static str,
    pub requests: usize,
    pub sleep: Duration,
    pub upstream_port: Option<u16>,
}

/// Measures each subject in turn with the crowd (fewer requests where a subject says).
pub fn run(crowd: &Crowd, subjects: &[Subject]) -> ScaleReport {
    let servers = subjects
        .iter()
        .map(|subject| measure(subject, crowd))
        .collect();
    ScaleReport {
        name: crowd.name,
        route: crowd.route,
        requests: crowd.requests,
        sleep_s: crowd.sleep.as_secs_f64(),
        method: METHOD,
        servers,
    }
}

/// ⌈requests / lanes⌉ · sleep: a thread serves one waiting request at a time, and an upstream
/// connection one call; tasks, any number.
pub fn predicted_wall(requests: usize, lanes: Option<usize>, sleep: Duration) -> Duration {
    let rounds = lanes.map_or(1, |lanes| requests.div_ceil(lanes.max(1)));
    sleep * u32::try_from(rounds).unwrap_or(u32::MAX)
}

/// The fewer of the subject's threads and upstream connections: what a request waits its turn
/// for.
fn lanes(subject: &Subject) -> Option<usize> {
    match (subject.handler_threads, subject.upstream_connections) {
        (Some(threads), Some(connections)) => Some(threads.min(connections)),
        (threads, connections) => threads.or(connections),
    }
}

fn measure(subject: &Subject, crowd: &Crowd) -> ScaleServer {
    let (all, sleep) = (crowd.requests, crowd.sleep);
    let pid = subject
        .target
        .get("/nosleep", Instant::now() + Duration::from_secs(5))
        .ok()
        .and_then(|exchange| exchange.pid());
    let sample = |pid| Sample::of(pid, crowd.upstream_port);
    let idle = pid.map(sample).unwrap_or_default();
    let sampling = AtomicBool::new(true);
    let (measured, peak) = thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut peak = idle;
            while sampling.load(Ordering::Relaxed) {
                if let Some(now) = pid.map(sample) {
                    peak = peak.max(now);
                }
                thread::sleep(Duration::from_millis(10));
            }
            peak
        });
        let measured = crowd::run(
            subject.target.addr,
            subject.requests,
            crowd.route,
            sleep.as_secs_f64(),
        );
        sampling.store(false, Ordering::Relaxed);
        (measured, sampler.join().expect("the sampler"))
    });
    let lanes = lanes(subject);
    let predicted = predicted_wall(subject.requests, lanes, sleep);
    let wall = Duration::from_secs_f64(measured.wall_s);
    let note = (measured.answered < measured.requests).then(|| {
        format!(
            "{} of {} answered: {}",
            measured.answered,
            measured.requests,
            limit_hint(subject, pid)
        )
    });
    ScaleServer {
        command: subject.command.clone(),
        url: subject.target.url.clone(),
        handler_threads: subject.handler_threads,
        requests: subject.requests,
        predicted_wall_s: predicted.as_secs_f64(),
        predicted_wall_for_all_s: (subject.requests < all)
            .then(|| predicted_wall(all, lanes, sleep).as_secs_f64()),
        idle_rss_kib: idle.rss_kib,
        peak_rss_kib: peak.rss_kib,
        rss_per_request_kib: peak.rss_kib.saturating_sub(idle.rss_kib) as f64
            / subject.requests as f64,
        idle_os_threads: idle.threads,
        peak_os_threads: peak.threads,
        idle_descriptors: idle.descriptors,
        peak_descriptors: peak.descriptors,
        peak_upstream_sockets: crowd.upstream_port.map(|_| peak.upstream_sockets),
        upstream_connections: subject.upstream_connections,
        as_predicted: wall >= predicted.mul_f64(0.8) && wall <= predicted.mul_f64(1.5),
        note,
        measured,
    }
}

/// What a server holds at one moment, from `/proc`.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    rss_kib: u64,
    threads: u64,
    descriptors: usize,
    upstream_sockets: usize,
}

impl Sample {
    fn of(pid: u32, upstream_port: Option<u16>) -> Sample {
        Sample {
            rss_kib: probe::process::rss_kib(pid),
            threads: probe::process::threads(pid),
            descriptors: probe::process::descriptors(pid),
            upstream_sockets: upstream_port.map_or(0, |port| probe::process::sockets_to(pid, port)),
        }
    }

    /// The most of each figure, each on its own.
    fn max(self, other: Sample) -> Sample {
        Sample {
            rss_kib: self.rss_kib.max(other.rss_kib),
            threads: self.threads.max(other.threads),
            descriptors: self.descriptors.max(other.descriptors),
            upstream_sockets: self.upstream_sockets.max(other.upstream_sockets),
        }
    }
}

/// Which of the machine's limits a crowd can run into on this server.
fn limit_hint(subject: &Subject, pid: Option<u32>) -> String {
    let files = pid
        .and_then(probe::process::open_files_limit)
        .map_or_else(|| "unknown".to_owned(), |files| files.to_string());
    match subject.handler_threads {
        // tiny_http holds two descriptors for each connection.
        Some(_) => format!(
            "each connection costs tiny_http two descriptors, and the server may open {files}"
        ),
        None => format!("the server may open {files} descriptors"),
    }
}

impl fmt::Display for ScaleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sleep = Duration::from_secs_f64(self.sleep_s);
        writeln!(
            f,
            "{}: {} concurrent {} ({}) on a thread per request and a task per request",
            self.name,
            self.requests,
            self.route,
            seconds(sleep)
        )?;
        for server in &self.servers {
            let m = &server.measured;
            writeln!(f, "\n  {} at {}", server.command, server.url)?;
            let mut threads = server
                .handler_threads
                .map_or("a task each, on one thread".to_owned(), |t| {
                    format!("{t} handler thread{}", if t == 1 { "" } else { "s" })
                });
            if let Some(connections) = server.upstream_connections {
                threads += &format!(" and {connections} upstream connections");
            }
            writeln!(
                f,
                "    {} requests on {threads}: predicted {}, took {} ({})",
                server.requests,
                seconds(Duration::from_secs_f64(server.predicted_wall_s)),
                seconds(Duration::from_secs_f64(m.wall_s)),
                if server.as_predicted {
                    "as predicted"
                } else {
                    "NOT as predicted"
                }
            )?;
            if let Some(all) = server.predicted_wall_for_all_s {
                writeln!(
                    f,
                    "    (not sent all {}: they would take {}, the prediction alone)",
                    self.requests,
                    seconds(Duration::from_secs_f64(all))
                )?;
            }
            writeln!(
                f,
                "    latency p50 {}, p99 {}, max {}; {} of {} answered, by {} thread{}",
                seconds(Duration::from_secs_f64(m.latency_p50_s)),
                seconds(Duration::from_secs_f64(m.latency_p99_s)),
                seconds(Duration::from_secs_f64(m.latency_max_s)),
                m.answered,
                m.requests,
                m.handler_threads,
                if m.handler_threads == 1 { "" } else { "s" }
            )?;
            writeln!(
                f,
                "    peak RSS {:.1} MiB ({:.1} KiB per waiting request), OS threads at the peak {} \
                 (idle: {})",
                server.peak_rss_kib as f64 / 1024.0,
                server.rss_per_request_kib,
                server.peak_os_threads,
                server.idle_os_threads
            )?;
            write!(
                f,
                "    descriptors at the peak {} (idle: {})",
                server.peak_descriptors, server.idle_descriptors
            )?;
            match server.peak_upstream_sockets {
                Some(out) => writeln!(f, ", of them sockets to the upstream: {out}")?,
                None => writeln!(f)?,
            }
            writeln!(
                f,
                "    /nosleep meanwhile: p99 {:.2} ms of {} asked{}",
                m.nosleep_p99_ms,
                m.nosleep_count,
                if m.nosleep_unanswered > 0 {
                    format!(", {} unanswered within 5 s", m.nosleep_unanswered)
                } else {
                    String::new()
                }
            )?;
            if let Some(note) = &server.note {
                writeln!(f, "    {note}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prediction_is_rounds_of_the_sleep() {
        let d = Duration::from_secs(2);
        assert_eq!(predicted_wall(1000, Some(1000), d), d);
        assert_eq!(predicted_wall(1000, Some(1), d), d * 1000);
        assert_eq!(predicted_wall(5, Some(2), d), d * 3);
        assert_eq!(predicted_wall(10_000, None, d), d);
    }

    #[test]
    fn the_fewer_of_threads_and_upstream_connections_make_the_rounds() {
        let target = Target::parse("http://127.0.0.1:1").unwrap();
        let subject = |handler_threads, upstream_connections| Subject {
            command: String::new(),
            target: &target,
            handler_threads,
            upstream_connections,
            requests: 1000,
        };
        assert_eq!(lanes(&subject(Some(1000), Some(10))), Some(10));
        assert_eq!(lanes(&subject(None, Some(10))), Some(10));
        assert_eq!(lanes(&subject(Some(4), None)), Some(4));
        assert_eq!(lanes(&subject(None, None)), None);
    }
}
