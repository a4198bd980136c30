//! `/nosleep` throughput: each server of ours against the minimal server it is built on (its
//! floor) and the references beside it, rotated so that all see the same machine, with wrk; and
//! the seed's servers against ours.

use std::path::Path;

use serde::Serialize;

use crate::launch::{pinned, Launch};

/// A throughput group, measured in one alternation: a server of ours, the floor it is held
/// against, references shown beside it, and the floor that keeps the server's timeouts, if any,
/// which the server is held against a second time from the same rounds.
pub(crate) struct Group {
    pub(crate) ours: &'static str,
    pub(crate) floor: &'static str,
    pub(crate) references: &'static [&'static str],
    pub(crate) guarded: Option<&'static str>,
}

/// async-server built with `--features system-allocator` ([`crate::tools::build`]).
pub(crate) const SYSTEM_ALLOCATOR: &str = "async-server-system-allocator";

pub(crate) const GROUPS: [Group; 2] = [
    Group {
        ours: "async-server",
        floor: "hello-hyper",
        // What the blocked-loop report costs: the same server without it. And what its
        // allocator (jemalloc, as sync-server's) is worth: the same server on the C library's.
        references: &["async-server --warn-blocked 0", SYSTEM_ALLOCATOR],
        // The floor with async-server's timeouts.
        guarded: Some("hello-hyper-guarded"),
    },
    Group {
        ours: "sync-server",
        floor: "hello-tiny-http",
        // What sync-server would cost with tiny_http's own Response (sync-server/src/http.rs).
        references: &["hello-tiny-http-response"],
        guarded: None,
    },
];

/// Each group's `/nosleep` throughput, `rounds` runs of `seconds` each; then, with `seed`, the
/// seed's runserver and uvicorn, each held against the one of ours standing for it.
pub(crate) fn measure_all(
    bin: &Path,
    logs: &Path,
    (rounds, seconds): (usize, u32),
    cores: usize,
    seed: Option<&[Launch; 3]>,
) -> Vec<Throughput> {
    let mut throughput = Vec::new();
    for group in &GROUPS {
        // In the order measured: ours, the floor, the references, the guarded floor.
        let launch = |name| Launch::ours(bin, name);
        let ours = launch(group.ours);
        let floor = launch(group.floor);
        let references: Vec<Launch> = group.references.iter().map(|name| launch(name)).collect();
        let guarded = group.guarded.map(launch);
        let all: Vec<Launch> = [ours, floor]
            .into_iter()
            .chain(references)
            .chain(guarded)
            .collect();
        let runs = rotate(&all, rounds, seconds, logs, cores);
        let figures = |runs: &[Run]| {
            (
                median(runs.iter().map(|r| r.rps)),
                median(runs.iter().map(|r| r.cpu_us)),
            )
        };
        let (ours_runs, floor_runs) = (&runs[0], &runs[1]);
        for (at, (measured, runs)) in all.iter().zip(&runs).enumerate() {
            let role = match at {
                0 => "ours",
                1 => "floor",
                _ => "reference",
            };
            let row = Throughput::of(measured.name, role, group.floor, figures(floor_runs), runs);
            throughput.push(row);
        }
        if let Some(guarded) = group.guarded {
            let guarded_runs = runs.last().expect("the guarded floor's runs");
            let row = Throughput::of(
                group.ours,
                "ours",
                guarded,
                figures(guarded_runs),
                ours_runs,
            );
            throughput.push(row);
        }
    }
    if let Some([runserver, _, uvicorn]) = seed {
        let servers = [runserver.clone(), uvicorn.clone()];
        let runs = rotate(&servers, rounds, seconds, logs, cores);
        for ((launch, runs), ours) in servers
            .iter()
            .zip(&runs)
            .zip(["sync-server", "async-server"])
        {
            let ours_figures =
                throughput
                    .iter()
                    .find(|t| t.server == ours)
                    .map_or((f64::NAN, f64::NAN), |t| {
                        (
                            median(t.rps.iter().copied()),
                            median(t.cpu_us.iter().copied()),
                        )
                    });
            throughput.push(Throughput::of(
                launch.name,
                "seed",
                ours,
                ours_figures,
                runs,
            ));
        }
    }
    throughput
}

#[derive(Serialize)]
pub(crate) struct Throughput {
    pub(crate) server: String,
    /// `ours`, `floor`, `reference` or `seed`.
    pub(crate) role: &'static str,
    /// What `ratio` compares with: the floor, or for the seed's servers the one of ours that
    /// stands for them.
    pub(crate) floor: String,
    /// Requests per second, one figure per round.
    pub(crate) rps: Vec<f64>,
    /// The median of `rps` over the floor's.
    pub(crate) ratio: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    /// The server's CPU time per request, in microseconds, one figure per round.
    pub(crate) cpu_us: Vec<f64>,
    /// The median of `cpu_us` over the floor's.
    pub(crate) cpu_ratio: f64,
    /// What wrk counted as errors over all rounds, by kind; empty when none.
    pub(crate) errors: String,
    /// The largest share of the machine's CPU time the hypervisor stole in any of its rounds.
    pub(crate) stolen: f64,
}

impl Throughput {
    pub(crate) fn of(
        server: &str,
        role: &'static str,
        floor: &str,
        (floor_rps, floor_cpu): (f64, f64),
        runs: &[Run],
    ) -> Throughput {
        Throughput {
            server: server.to_owned(),
            role,
            floor: floor.to_owned(),
            rps: runs.iter().map(|r| r.rps.round()).collect(),
            ratio: median(runs.iter().map(|r| r.rps)) / floor_rps,
            cpu_us: runs
                .iter()
                .map(|r| (r.cpu_us * 1000.0).round() / 1000.0)
                .collect(),
            cpu_ratio: median(runs.iter().map(|r| r.cpu_us)) / floor_cpu,
            p50_us: median(runs.iter().map(|r| r.p50_us)),
            p99_us: median(runs.iter().map(|r| r.p99_us)),
            errors: errors(runs),
            stolen: runs.iter().map(|r| r.stolen).fold(0.0, f64::max),
        }
    }
}

pub(crate) struct Run {
    pub(crate) rps: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    /// The server's CPU time (user and system, all threads, from /proc) per request answered.
    pub(crate) cpu_us: f64,
    /// What wrk counted, by the kinds of [`ERROR_KINDS`].
    pub(crate) errors: [u64; 5],
    /// The share of the machine's CPU time the hypervisor gave to others while wrk ran.
    pub(crate) stolen: f64,
}

/// wrk's `Socket errors` (connect, read, write, timeout) and its `Non-2xx or 3xx responses`.
pub(crate) const ERROR_KINDS: [&str; 5] = ["connect", "read", "write", "timeout", "non-2xx"];

/// Measures each of `group` `rounds` times, rotating which goes first so that none always meets
/// a warmer or cooler machine; returns each one's runs, in the group's order.
pub(crate) fn rotate(
    group: &[Launch],
    rounds: usize,
    seconds: u32,
    logs: &Path,
    cores: usize,
) -> Vec<Vec<Run>> {
    let mut runs: Vec<Vec<Run>> = group.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for at in (0..group.len()).map(|i| (i + round) % group.len()) {
            let launch = &group[at];
            let run = measure(
                launch,
                &logs.join(format!("{}.log", launch.name.replace(" ", "_"))),
                "/nosleep",
                seconds,
                cores,
            );
            eprintln!(
                "{}: {:.0} req/s, p50 {:.0} us, p99 {:.0} us",
                launch.name, run.rps, run.p50_us, run.p99_us
            );
            runs[at].push(run);
        }
    }
    runs
}

/// Runs `launch` (its output to `log`) and wrk against its `path` (`/nosleep`).
pub(crate) fn measure(launch: &Launch, log: &Path, path: &str, seconds: u32, cores: usize) -> Run {
    let (server, url) = launch.start(log, cores);
    let cpu_before = probe::process::cpu_time(server.pid());
    let machine = probe::process::MachineTime::now();
    let mut wrk = pinned(Path::new("wrk"), 1, cores);
    let output = wrk
        .args([
            "-t1",
            "-c64",
            &format!("-d{seconds}s"),
            "--latency",
            &format!("{url}{path}"),
        ])
        .output()
        .expect("wrk runs");
    let cpu = probe::process::cpu_time(server.pid()).saturating_sub(cpu_before);
    let stolen = machine.stolen_since();
    drop(server);
    let mut run = parse_wrk(&String::from_utf8_lossy(&output.stdout));
    let answered = run.rps * f64::from(seconds);
    run.cpu_us = cpu.as_secs_f64() * 1e6 / answered.max(1.0);
    run.stolen = stolen;
    run
}

pub(crate) fn parse_wrk(output: &str) -> Run {
    let field = |prefix: &str| {
        output
            .lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(prefix))
            .map(str::trim)
            .unwrap_or_else(|| panic!("wrk printed no {prefix:?}:\n{output}"))
    };
    // "Socket errors: connect 0, read 9621, write 0, timeout 0", "Non-2xx or 3xx responses: 5"
    let mut errors = [0; 5];
    for line in output.lines().map(str::trim) {
        let counts = match line.strip_prefix("Non-2xx or 3xx responses:") {
            Some(count) => format!("non-2xx {count}"),
            None => line.strip_prefix("Socket errors:").unwrap_or("").to_owned(),
        };
        for (kind, count) in counts
            .split(',')
            .filter_map(|part| part.trim().split_once(' '))
        {
            if let Some(at) = ERROR_KINDS.iter().position(|known| *known == kind) {
                errors[at] = count.trim().parse().unwrap_or(0);
            }
        }
    }
    Run {
        rps: field("Requests/sec:").parse().unwrap(),
        p50_us: micros(field("50%")),
        p99_us: micros(field("99%")),
        cpu_us: f64::NAN,
        errors,
        stolen: f64::NAN,
    }
}

/// The errors wrk counted over `runs`, summed by kind, the kinds it never counted left out:
/// `read 9621, timeout 3`.
pub(crate) fn errors(runs: &[Run]) -> String {
    let totals = ERROR_KINDS.iter().enumerate().map(|(at, kind)| {
        let total: u64 = runs.iter().map(|run| run.errors[at]).sum();
        (kind, total)
    });
    let counted: Vec<String> = totals
        .filter(|(_, total)| *total > 0)
        .map(|(kind, total)| format!("{kind} {total}"))
        .collect();
    counted.join(", ")
}

/// `54.00us`, `1.20ms`, `2.00s` in microseconds.
pub(crate) fn micros(text: &str) -> f64 {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().unwrap();
    match unit {
        "us" => number,
        "ms" => number * 1e3,
        "s" => number * 1e6,
        other => panic!("unknown unit {other:?}"),
    }
}

pub(crate) fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::latency;

    /// What wrk 4 prints for a server that closes every connection, trimmed.
    const WRK: &str = "Running 3s test @ http://127.0.0.1:40000/nosleep
  1 threads and 64 connections
  Latency Distribution
     50%  662.00us
     75%    1.02ms
     90%    3.10ms
     99%    1.20s
  6870 requests in 3.00s, 1.10MB read
  Socket errors: connect 0, read 6873, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:   2290.12
Transfer/sec:    375.71KB
";

    #[test]
    fn reads_throughput_latency_and_errors_from_wrk() {
        let run = parse_wrk(WRK);
        assert_eq!(run.rps, 2290.12);
        assert_eq!(run.p50_us, 662.0);
        assert_eq!(run.p99_us, 1_200_000.0);
        let twice = [parse_wrk(WRK), parse_wrk(WRK)];
        assert_eq!(errors(&twice), "read 13746, timeout 4, non-2xx 8");
    }

    #[test]
    fn no_errors_is_an_empty_list() {
        let clean = WRK.replace(
            "  Socket errors: connect 0, read 6873, write 0, timeout 2\n",
            "",
        );
        let clean = clean.replace("  Non-2xx or 3xx responses: 4\n", "");
        assert_eq!(errors(&[parse_wrk(&clean)]), "");
    }

    #[test]
    fn latencies_read_in_a_fitting_unit() {
        assert_eq!(latency(642.4), "642 µs");
        assert_eq!(latency(32_410.0), "32.4 ms");
        assert_eq!(latency(1_200_000.0), "1.20 s");
    }
}
