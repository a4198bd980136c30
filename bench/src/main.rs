//! The benchmark runner: `cargo run --release -p bench -- [--quick] [--seed]`.
//!
//! Builds everything in release mode, installs wrk if it is missing, pins each server to one
//! core and its load generator to another (with two cores or more), and measures `/nosleep`
//! throughput and latency of each server and of the minimal server it is built on, rotating
//! them so that all see the same machine; `/query?seconds=0` against pgbench on one throwaway
//! PostgreSQL cluster; then many concurrent sleeps (fan-out). With `--seed`,
//! the seed's own Django stack too. Prints the tables with the method and the machine under
//! them, and writes them to `docs/performance.md` and `docs/performance.json` (with `--quick`,
//! a shorter run that checks the runner, to `target/bench/`).

mod database;
mod instructions;
mod items;
mod launch;
mod seed;

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{ensure, Context};
use clap::{Parser, Subcommand};
use shared::os::cli::{self, Arguments};

use serde::Serialize;

use crate::launch::{pinned, Launch};

/// The throughput groups, each measured in one alternation: a server of ours, the floor it is
/// held against, and references shown beside them.
const GROUPS: [(&str, &str, &[&str]); 2] = [
    (
        "async-server",
        "hello-hyper",
        // What the blocked-loop report costs: the same server without it; and the floor with
        // async-server's timeouts.
        &["async-server --warn-blocked 0", "hello-hyper-guarded"],
    ),
    (
        "sync-server",
        "hello-tiny-http",
        // What sync-server would cost with tiny_http's own Response (sync-server/src/http.rs).
        &["hello-tiny-http-response"],
    ),
];

#[derive(Serialize)]
struct Report {
    machine: String,
    method: String,
    throughput: Vec<Throughput>,
    database_method: String,
    database: Vec<database::Row>,
    fanout_method: String,
    fanout: Vec<FanOut>,
    instructions_method: &'static str,
    instructions: Vec<Instructions>,
}

/// Each server whose instructions per request are counted, and what it is held against. A
/// server is counted once however many rows name it.
const COUNTED: [(&str, &str); 8] = [
    ("async-server", "hello-hyper"),
    // The floor that keeps async-server's timeouts: what they cost apart from the rest.
    ("async-server", "hello-hyper-guarded"),
    ("hello-hyper-guarded", "hello-hyper"),
    // The same, carrying the four fields every answer carries: what hyper takes to write them.
    ("async-server", "hello-hyper-guarded --fields"),
    ("hello-hyper-guarded --fields", "hello-hyper-guarded"),
    // What the blocked-loop report costs: the same server without it.
    ("async-server --warn-blocked 0", "hello-hyper-guarded"),
    ("sync-server", "hello-tiny-http"),
    ("hello-tiny-http", "hello-tiny-http"),
];

#[derive(Serialize)]
struct Instructions {
    server: &'static str,
    per_request: f64,
    floor: &'static str,
    /// `per_request` over the floor's.
    ratio: f64,
}

impl Instructions {
    fn new(server: &'static str, per_request: f64, floor: &'static str, base: f64) -> Self {
        Instructions {
            server,
            per_request: per_request.round(),
            floor,
            ratio: per_request / base,
        }
    }
}

#[derive(Serialize)]
struct FanOut {
    server: String,
    #[serde(flatten)]
    measured: probe::crowd::Measured,
    idle_rss_kib: u64,
    peak_rss_kib: u64,
    /// (peak - idle) / requests.
    per_connection_kib: f64,
    /// The most OS threads the server ran while the sleeps waited.
    peak_threads: u64,
}

/// sync-server with as many handler threads as waiting requests, at each fan-out size, and
/// room under its `--max-connections` (10,000 unless told) for them and the `/nosleep` sent
/// meanwhile.
const THREADED: [(&str, usize); 3] = [
    ("sync-server --threads 100", 100),
    ("sync-server --threads 1000", 1000),
    (
        "sync-server --threads 10000 --max-connections 10100",
        10_000,
    ),
];

/// How long each fan-out request sleeps.
const FANOUT_SLEEP: f64 = 2.0;

#[derive(Serialize)]
struct Throughput {
    server: String,
    /// `ours`, `floor`, `reference` or `seed`.
    role: &'static str,
    /// What `ratio` compares with: the floor, or for the seed's servers the one of ours that
    /// stands for them.
    floor: String,
    /// Requests per second, one figure per round.
    rps: Vec<f64>,
    /// The median of `rps` over the floor's.
    ratio: f64,
    p50_us: f64,
    p99_us: f64,
    /// The server's CPU time per request, in microseconds, one figure per round.
    cpu_us: Vec<f64>,
    /// The median of `cpu_us` over the floor's.
    cpu_ratio: f64,
    /// What wrk counted as errors over all rounds, by kind; empty when none.
    errors: String,
}

struct Run {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    /// The server's CPU time (user and system, all threads, from /proc) per request answered.
    cpu_us: f64,
    /// What wrk counted, by the kinds of [`ERROR_KINDS`].
    errors: [u64; 5],
}

/// wrk's `Socket errors` (connect, read, write, timeout) and its `Non-2xx or 3xx responses`.
const ERROR_KINDS: [&str; 5] = ["connect", "read", "write", "timeout", "non-2xx"];

/// Measures both servers against the minimal servers they are built on, and writes
/// docs/performance.md and docs/performance.json.
#[derive(Parser, Debug)]
#[command(name = "bench", version)]
struct Cli {
    /// A short run that checks the runner: 2 rounds of 3 s, fan-out to 1,000, figures written to
    /// target/bench/ instead of docs/
    #[arg(long)]
    quick: bool,
    /// Also measure the seed's own stack (Django's runserver and uvicorn, from PyPI)
    #[arg(long)]
    seed: bool,
    /// Instead, where each server's instructions per request go, item by item, beside its
    /// floor's; written to docs/instructions.md
    #[arg(long, conflicts_with_all = ["quick", "seed"])]
    items: bool,
    #[command(subcommand)]
    role: Option<Role>,
}

#[derive(Subcommand, Debug)]
enum Role {
    /// The runner's own fan-out client, which it starts pinned to a core of its own
    #[command(hide = true)]
    FanoutClient {
        addr: SocketAddr,
        count: usize,
        seconds: f64,
    },
}

impl Arguments for Cli {}

fn main() -> ExitCode {
    match cli::parse() {
        Ok(args) => cli::finish(run(args)),
        Err(exit) => exit,
    }
}

fn run(args: Cli) -> anyhow::Result<()> {
    if let Some(Role::FanoutClient {
        addr,
        count,
        seconds,
    }) = args.role
    {
        let measured = probe::crowd::run(addr, count, seconds);
        println!("{}", serde_json::to_string(&measured)?);
        return Ok(());
    }
    let (quick, with_seed) = (args.quick, args.seed);
    let (rounds, seconds) = if quick { (2, 3) } else { (5, 10) };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned();
    if args.items {
        return item_by_item(&root);
    }
    build(&root, None)?;
    for (program, package) in [
        ("wrk", "wrk"),
        ("valgrind", "valgrind"),
        ("h2load", "nghttp2-client"),
    ] {
        ensure_tool(program, package)?;
    }
    let bin = root.join("target/release");
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let logs = root.join("target/bench");
    fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;

    let mut throughput = Vec::new();
    for (server, floor, references) in GROUPS {
        let names = [server, floor]
            .into_iter()
            .chain(references.iter().copied());
        let group: Vec<Launch> = names.map(|name| Launch::ours(&bin, name)).collect();
        let runs = rotate(&group, rounds, seconds, &logs, cores);
        let floor_figures = (
            median(runs[1].iter().map(|r| r.rps)),
            median(runs[1].iter().map(|r| r.cpu_us)),
        );
        for (at, (launch, runs)) in group.iter().zip(&runs).enumerate() {
            let role = ["ours", "floor"].get(at).copied().unwrap_or("reference");
            throughput.push(Throughput::of(
                launch.name,
                role,
                floor,
                floor_figures,
                runs,
            ));
        }
        // The server again, against the floor that keeps its timeouts, from the same rounds.
        let guarded = group
            .iter()
            .position(|launch| launch.name.ends_with("-guarded"));
        if let Some(at) = guarded {
            let figures = (
                median(runs[at].iter().map(|r| r.rps)),
                median(runs[at].iter().map(|r| r.cpu_us)),
            );
            throughput.push(Throughput::of(
                server,
                "ours",
                group[at].name,
                figures,
                &runs[0],
            ));
        }
    }
    // The seed's servers, runserver and uvicorn, each held against the one of ours standing for it.
    let seed = with_seed.then(|| seed::prepare(&root));
    if let Some([runserver, _, uvicorn]) = &seed {
        let servers = [runserver.clone(), uvicorn.clone()];
        let runs = rotate(&servers, rounds, seconds, &logs, cores);
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

    let sizes: &[usize] = if quick {
        &[100, 1000]
    } else {
        &[100, 1000, 10_000]
    };
    let mut fanouts = Vec::new();
    let mut crowds = vec![
        (Launch::ours(&bin, "async-server"), sizes),
        (Launch::ours(&bin, "hello-hyper"), sizes),
        (Launch::ours(&bin, "sync-server"), &[5][..]),
    ];
    // A thread per waiting request: as many handler threads as requests.
    for (name, count) in &THREADED {
        if sizes.contains(count) {
            crowds.push((Launch::ours(&bin, name), std::slice::from_ref(count)));
        }
    }
    if let Some([runserver, threaded, uvicorn]) = seed {
        // Not 10,000 for uvicorn: its backlog of 2048 and its pace would make that minutes.
        crowds.push((uvicorn, &sizes[..sizes.len().min(2)]));
        crowds.push((runserver, &[5][..]));
        // Nor for Django's threaded runserver, whose listen backlog is 10 (Django's own): the
        // crowd's connections queue for it, so that 1,000 take minutes (a quick run sends 100).
        let reasonable = if quick { 1 } else { 2 };
        crowds.push((threaded, &sizes[..sizes.len().min(reasonable)]));
    }
    for (launch, counts) in &crowds {
        for &count in counts.iter() {
            let log = logs.join(format!("{}.log", launch.name.replace(" ", "_")));
            let measured = fan_out(launch, &log, count, cores);
            eprintln!(
                "{}: {count} sleeps: {} answered in {:.2} s",
                launch.name, measured.measured.answered, measured.measured.wall_s
            );
            fanouts.push(measured);
        }
    }

    // Instructions per request: the figure that does not drift with the machine.
    let mut instructions = Vec::new();
    let count = |name: &'static str| {
        let launch = Launch::ours(&bin, name);
        let log = logs.join(format!("{}.callgrind.log", name.replace(' ', "_")));
        let figure = instructions::per_request(&launch, &log, &logs)?;
        eprintln!("{name}: {figure:.0} instructions per request");
        anyhow::Ok(figure)
    };
    let mut counted = std::collections::BTreeMap::new();
    for (server, floor) in COUNTED {
        for name in [server, floor] {
            if !counted.contains_key(name) {
                counted.insert(name, count(name)?);
            }
        }
        instructions.push(Instructions::new(
            server,
            counted[server],
            floor,
            counted[floor],
        ));
    }
    instructions.push(Instructions::new(
        "hello-hyper",
        counted["hello-hyper"],
        "hello-hyper",
        counted["hello-hyper"],
    ));

    // /query against the database alone, on one throwaway cluster.
    let database = database::measure(&bin, &logs, seconds, cores)?;
    for row in &database {
        eprintln!(
            "{}: {:.0} /query per second, {:.2} of pgbench's",
            row.name, row.per_second, row.of_pgbench
        );
    }

    let pinned = if cores >= 2 {
        "each server pinned to core 0 and wrk to core 1 (taskset)"
    } else {
        "one core: not pinned"
    };
    let report = Report {
        machine: machine(cores),
        method: format!(
            "wrk -t1 -c64 -d{seconds}s --latency on /nosleep (keep-alive, 64 connections), {pinned}; \
             {rounds} rounds rotating each server with its floor (and reference), medians reported; \
             logging on, stdout to a file; release build{}{}",
            if quick { "; --quick" } else { "" },
            if with_seed { SEED_METHOD } else { "" }
        ),
        throughput,
        database_method: database::method(seconds),
        database,
        fanout_method: format!(
            "N connections at once, each GET /sleep?seconds={FANOUT_SLEEP} (Connection: close), from \
             one tokio current_thread client pinned apart from the server; meanwhile /nosleep asked \
             one at a time on new connections; peak RSS is the server's VmHWM, idle RSS its VmRSS \
             before"
        ),
        fanout: fanouts,
        instructions_method: instructions::METHOD,
        instructions,
    };
    let table = markdown(&report);
    println!("{table}");
    // A quick run checks the runner; only a full one replaces the figures the README quotes.
    let out = if quick { logs } else { root.join("docs") };
    let json = serde_json::to_string_pretty(&report)? + "\n";
    for (name, text) in [("performance.md", table), ("performance.json", json)] {
        let path = out.join(name);
        fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    eprintln!(
        "wrote {0}/performance.md and {0}/performance.json",
        out.display()
    );

    // The regression check: CI fails when a server's cost grows past the committed figure.
    let committed = root.join("bench/instructions.json");
    let baseline = instructions::Baseline::read(&committed)?;
    let mut measured: Vec<(&str, f64)> = report
        .instructions
        .iter()
        .map(|counted| (counted.server, counted.per_request))
        .collect();
    measured.sort_by_key(|&(server, _)| server);
    measured.dedup_by_key(|&mut (server, _)| server);
    let exceeded = baseline.exceeded(&measured);
    for (server, figure, committed) in &exceeded {
        eprintln!(
            "bench: {server} executes {figure:.0} instructions per request, more than {:.0}% over \
             the {committed:.0} committed in bench/instructions.json",
            (instructions::TOLERANCE - 1.0) * 100.0
        );
    }
    ensure!(
        exceeded.is_empty(),
        "instructions per request grew; make it cheaper, or commit the new figure saying why"
    );
    Ok(())
}

/// How the seed's servers were run, for the method line.
const SEED_METHOD: &str = "; the seed's stack (--seed): its views in bench/seed, Django and \
    uvicorn from PyPI (bench/seed/requirements.txt), `manage.py runserver --nothreading \
    --noreload` and `uvicorn --workers 1`, each logging to its file; their ratio is to the server \
    of ours that stands for them; runserver closes the connection after every answer, which wrk \
    counts as a read error";

fn markdown(report: &Report) -> String {
    let mut table = String::from(
        "| server | req/s | p50 | p99 | of the floor's req/s | CPU per request | of the floor's \
         | errors (wrk) |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for t in &report.throughput {
        let (against, cpu_against) = match t.role {
            "floor" => ("the floor".to_owned(), "the floor".to_owned()),
            _ => (
                format!("{:.2} of {}", t.ratio, t.floor),
                format!("{:.2}x {}", t.cpu_ratio, t.floor),
            ),
        };
        let errors = if t.errors.is_empty() {
            "none"
        } else {
            &t.errors
        };
        table += &format!(
            "| {} | {:.0} | {} | {} | {} | {:.2} µs | {} | {} |\n",
            t.server,
            median(t.rps.iter().copied()),
            latency(t.p50_us),
            latency(t.p99_us),
            against,
            median(t.cpu_us.iter().copied()),
            cpu_against,
            errors
        );
    }
    table += &format!("\nMethod: {}.\n\n", report.method);
    table += &database::markdown(&report.database, &report.database_method);
    table += "| server | concurrent 2 s sleeps | answered | wall | latency p50 | p99 | max \
              | peak RSS | per connection | OS threads at the peak | /nosleep p99 meanwhile |\n\
              | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
    for f in &report.fanout {
        let m = &f.measured;
        table += &format!(
            "| {} | {} | {} | {:.2} s | {:.3} s | {:.3} s | {:.3} s | {:.1} MiB | {:.1} KiB | \
             {} | {} |\n",
            f.server,
            m.requests,
            m.answered,
            m.wall_s,
            m.latency_p50_s,
            m.latency_p99_s,
            m.latency_max_s,
            f.peak_rss_kib as f64 / 1024.0,
            f.per_connection_kib,
            f.peak_threads,
            meanwhile(m)
        );
    }
    table += &format!("\nMethod: {}.\n\n", report.fanout_method);
    table += "| server | instructions per request | of the floor's |\n| --- | --- | --- |\n";
    for counted in &report.instructions {
        let against = if counted.server == counted.floor {
            "the floor".to_owned()
        } else {
            format!("{:.2}x {}", counted.ratio, counted.floor)
        };
        table += &format!(
            "| {} | {:.0} | {against} |\n",
            counted.server, counted.per_request
        );
    }
    table
        + &format!(
            "\nMethod: {}.\n\nMachine: {}.\n",
            report.instructions_method, report.machine
        )
}

/// A latency in the unit that reads best: `640 µs`, `32.4 ms`, `1.20 s`.
fn latency(micros: f64) -> String {
    match micros {
        us if us < 1e3 => format!("{us:.0} µs"),
        us if us < 1e6 => format!("{:.1} ms", us / 1e3),
        us => format!("{:.2} s", us / 1e6),
    }
}

/// The fan-out table's last cell: how the `/nosleep` asked during the sleeps fared.
fn meanwhile(m: &probe::crowd::Measured) -> String {
    let asked = m.nosleep_count;
    if m.nosleep_unanswered == asked {
        return format!("none answered ({asked} asked, unanswered in 5 s)");
    }
    format!(
        "{:.2} ms ({asked} asked, {} unanswered in 5 s)",
        m.nosleep_p99_ms, m.nosleep_unanswered
    )
}

/// Measures each of `group` `rounds` times, rotating which goes first so that none always meets
/// a warmer or cooler machine; returns each one's runs, in the group's order.
fn rotate(
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

impl Throughput {
    fn of(
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
        }
    }
}

/// Runs `launch` (its output to `log`) and wrk against its `path` (`/nosleep`).
fn measure(launch: &Launch, log: &Path, path: &str, seconds: u32, cores: usize) -> Run {
    let (server, url) = launch.start(log, cores);
    let cpu_before = probe::process::cpu_time(server.pid());
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
    drop(server);
    let mut run = parse_wrk(&String::from_utf8_lossy(&output.stdout));
    let answered = run.rps * f64::from(seconds);
    run.cpu_us = cpu.as_secs_f64() * 1e6 / answered.max(1.0);
    run
}

/// Runs `count` concurrent sleeps against `launch`, with this program as the client.
fn fan_out(launch: &Launch, log: &Path, count: usize, cores: usize) -> FanOut {
    let (server, url) = launch.start(log, cores);
    let pid = server.pid();
    let idle = probe::process::rss_kib(pid);
    let waiting = std::sync::atomic::AtomicBool::new(true);
    let (client, peak_threads) = std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut peak = 0;
            while waiting.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(probe::process::threads(pid));
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            peak
        });
        let client = pinned(&std::env::current_exe().unwrap(), 1, cores)
            .args([
                "fanout-client",
                url.trim_start_matches("http://"),
                &count.to_string(),
            ])
            .arg(FANOUT_SLEEP.to_string())
            .output()
            .expect("the fan-out client runs");
        waiting.store(false, std::sync::atomic::Ordering::Relaxed);
        (client, sampler.join().unwrap())
    });
    let peak = probe::process::peak_rss_kib(pid);
    drop(server);
    let measured: probe::crowd::Measured =
        serde_json::from_slice(&client.stdout).unwrap_or_else(|e| {
            panic!(
                "fan-out client: {e}: {}",
                String::from_utf8_lossy(&client.stderr)
            )
        });
    FanOut {
        server: launch.name.to_owned(),
        per_connection_kib: peak.saturating_sub(idle) as f64 / count as f64,
        measured,
        idle_rss_kib: idle,
        peak_rss_kib: peak,
        peak_threads,
    }
}

fn parse_wrk(output: &str) -> Run {
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
    }
}

/// The errors wrk counted over `runs`, summed by kind, the kinds it never counted left out:
/// `read 9621, timeout 3`.
fn errors(runs: &[Run]) -> String {
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
fn micros(text: &str) -> f64 {
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

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Builds the servers and the floors (not this runner, which is running).
/// Builds the servers and the floors in release mode; with `line_tables`, into that target
/// directory with line tables, for a profile to name source files (the code is the same).
fn build(root: &Path, line_tables: Option<&Path>) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    for targets in [
        &["-p", "sync-server", "-p", "async-server"][..],
        &[
            "-p",
            "bench",
            "--bin",
            "hello-hyper",
            "--bin",
            "hello-hyper-guarded",
            "--bin",
            "hello-tiny-http",
            "--bin",
            "hello-tiny-http-response",
        ],
    ] {
        let mut command = Command::new(&cargo);
        command.current_dir(root).args(["build", "--release"]);
        if let Some(dir) = line_tables {
            command
                .env("CARGO_PROFILE_RELEASE_DEBUG", "line-tables-only")
                .arg("--target-dir")
                .arg(dir);
        }
        let status = command.args(targets).status().context("cannot run cargo")?;
        ensure!(status.success(), "the release build failed");
    }
    Ok(())
}

/// `--items`: each server against its floor, item by item, printed and written to
/// docs/instructions.md.
fn item_by_item(root: &Path) -> anyhow::Result<()> {
    let profiled = root.join("target/profiled");
    build(root, Some(&profiled))?;
    for (program, package) in [("valgrind", "valgrind"), ("h2load", "nghttp2-client")] {
        ensure_tool(program, package)?;
    }
    let bin = profiled.join("release");
    let logs = root.join("target/bench");
    fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    let mut text = String::from(
        "# Where the instructions of a request go

Written by `cargo run --release -p bench -- \
         --items`: each server beside the floor it is held against, and async-server beside \
         itself without its blocked-loop report, its instructions per `/nosleep` counted as the \
         benchmark runner counts them, by item.
",
    );
    // Each program counted once, though it may stand in more than one pair.
    let mut counts = std::collections::BTreeMap::new();
    for (server, floor) in items::PAIRS {
        for name in [server, floor] {
            if !counts.contains_key(name) {
                let log = logs.join(format!("{}.items.log", name.replace(' ', "_")));
                let launch = Launch::ours(&bin, name);
                counts.insert(name, items::per_request(root, &launch, &log, &logs)?);
            }
        }
        let table = items::table(server, &counts[server], floor, &counts[floor]);
        println!("{table}");
        text += &format!(
            "
## {server} against {floor}

{table}"
        );
    }
    text += &format!(
        "
Method: {}. Built with line tables (the same optimized code), so that callgrind \
         names the source file of every instruction, inlined or not. Items: a file of this \
         workspace; a crate this workspace uses; the allocator; libc's copying of memory. The \
         standard library's code counts with the crate whose function it ran in.\n\nMachine: \
         {}.\n",
        instructions::METHOD,
        machine(std::thread::available_parallelism().map_or(1, usize::from))
    );
    let path = root.join("docs/instructions.md");
    fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// Installs `program` from Debian's `package` unless it runs already.
fn ensure_tool(program: &str, package: &str) -> anyhow::Result<()> {
    if Command::new(program).arg("--version").output().is_ok() {
        return Ok(());
    }
    eprintln!("installing {program} (Debian package {package})");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    let mut apt = if root {
        Command::new("apt-get")
    } else {
        let mut c = Command::new("sudo");
        c.arg("apt-get");
        c
    };
    let status = apt
        .args(["install", "-y", "-qq", package])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status();
    ensure!(
        status.is_ok_and(|s| s.success()),
        "cannot install {package}"
    );
    Ok(())
}

fn machine(cores: usize) -> String {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split(':').nth(1))
        .map_or("unknown CPU", str::trim)
        .to_owned();
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cores} cores, {model}, Linux {}", kernel.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

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
