//! The benchmark runner: `cargo run --release -p bench -- [--quick]`.
//!
//! Builds everything in release mode, installs wrk if it is missing, pins each server to one
//! core and its load generator to another (with two cores or more), and measures `/nosleep`
//! throughput and latency of each server and of the minimal server it is built on, alternating
//! the two so that both see the same machine. Prints a table with the method and the machine
//! under it, and writes it to `docs/performance.md` and `docs/performance.json` (with
//! `--quick`, a shorter run that checks the runner, to `target/bench/`).

mod fanout;

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use probe::Target;
use serde::Serialize;

/// The throughput groups, each measured in one alternation: a server of ours, the floor it is
/// held against, and references shown beside them.
const GROUPS: [(&str, &str, &[&str]); 2] = [
    ("async-server", "hello-hyper", &[]),
    (
        "sync-server",
        "hello-tiny-http",
        // What sync-server would cost with tiny_http's own Response (sync-server/src/respond.rs).
        &["hello-tiny-http-response"],
    ),
];

#[derive(Serialize)]
struct Report {
    machine: String,
    method: String,
    throughput: Vec<Throughput>,
    fanout_method: String,
    fanout: Vec<FanOut>,
}

#[derive(Serialize)]
struct FanOut {
    server: String,
    #[serde(flatten)]
    measured: fanout::Measured,
    idle_rss_kib: u64,
    peak_rss_kib: u64,
    /// (peak - idle) / requests.
    per_connection_kib: f64,
}

/// How long each fan-out request sleeps.
const FANOUT_SLEEP: f64 = 2.0;

#[derive(Serialize)]
struct Throughput {
    server: String,
    /// `ours`, `floor` or `reference`.
    role: &'static str,
    floor: String,
    /// Requests per second, one figure per round.
    rps: Vec<f64>,
    /// The median of `rps` over the floor's.
    ratio: f64,
    p50_us: f64,
    p99_us: f64,
}

struct Run {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).is_some_and(|arg| arg == "fanout-client") {
        // The runner starts this process as its own fan-out client, pinned to a core of its own.
        let addr = args[2].parse().expect("an address");
        let measured = fanout::run(addr, args[3].parse().unwrap(), args[4].parse().unwrap());
        println!("{}", serde_json::to_string(&measured).unwrap());
        return;
    }
    let quick = args.iter().any(|arg| arg == "--quick");
    let (rounds, seconds) = if quick { (2, 3) } else { (5, 10) };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned();
    build(&root);
    ensure_wrk();
    let bin = root.join("target/release");
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let logs = root.join("target/bench");
    fs::create_dir_all(&logs).unwrap();

    let mut throughput = Vec::new();
    for (server, floor, references) in GROUPS {
        let group: Vec<&str> = [server, floor]
            .into_iter()
            .chain(references.iter().copied())
            .collect();
        let mut runs: Vec<Vec<Run>> = group.iter().map(|_| Vec::new()).collect();
        for round in 0..rounds {
            // Rotate which goes first, so none always meets a warmer or cooler machine.
            for at in (0..group.len()).map(|i| (i + round) % group.len()) {
                let name = group[at];
                let run = measure(
                    &bin.join(name),
                    &logs.join(format!("{name}.log")),
                    seconds,
                    cores,
                );
                eprintln!(
                    "{name}: {:.0} req/s, p50 {:.0} us, p99 {:.0} us",
                    run.rps, run.p50_us, run.p99_us
                );
                runs[at].push(run);
            }
        }
        let floor_rps = median(runs[1].iter().map(|r| r.rps));
        for (at, (name, runs)) in group.iter().zip(&runs).enumerate() {
            throughput.push(Throughput {
                server: name.to_string(),
                role: ["ours", "floor"].get(at).copied().unwrap_or("reference"),
                floor: floor.to_owned(),
                rps: runs.iter().map(|r| r.rps.round()).collect(),
                ratio: median(runs.iter().map(|r| r.rps)) / floor_rps,
                p50_us: median(runs.iter().map(|r| r.p50_us)),
                p99_us: median(runs.iter().map(|r| r.p99_us)),
            });
        }
    }

    let sizes: &[usize] = if quick {
        &[100, 1000]
    } else {
        &[100, 1000, 10_000]
    };
    let mut fanouts = Vec::new();
    for (name, counts) in [
        ("async-server", sizes),
        ("hello-hyper", sizes),
        ("sync-server", &[5][..]),
    ] {
        for &count in counts {
            let measured = fan_out(
                &bin.join(name),
                &logs.join(format!("{name}.log")),
                count,
                cores,
            );
            eprintln!(
                "{name}: {count} sleeps: {} answered in {:.2} s",
                measured.measured.answered, measured.measured.wall_s
            );
            fanouts.push(measured);
        }
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
             logging on, stdout to a file; release build{}",
            if quick { "; --quick" } else { "" }
        ),
        throughput,
        fanout_method: format!(
            "N connections at once, each GET /sleep?seconds={FANOUT_SLEEP} (Connection: close), from \
             one tokio current_thread client pinned apart from the server; meanwhile /nosleep asked \
             one at a time on new connections; peak RSS is the server's VmHWM, idle RSS its VmRSS \
             before"
        ),
        fanout: fanouts,
    };
    let table = markdown(&report);
    println!("{table}");
    // A quick run checks the runner; only a full one replaces the figures the README quotes.
    let out = if quick { logs } else { root.join("docs") };
    fs::write(out.join("performance.md"), &table).unwrap();
    let json = serde_json::to_string_pretty(&report).unwrap();
    fs::write(out.join("performance.json"), json + "\n").unwrap();
    eprintln!(
        "wrote {0}/performance.md and {0}/performance.json",
        out.display()
    );
}

fn markdown(report: &Report) -> String {
    let mut table = String::from(
        "| server | req/s | p50 | p99 | of the floor's req/s |\n| --- | --- | --- | --- | --- |\n",
    );
    for t in &report.throughput {
        let against = match t.role {
            "floor" => "the floor".to_owned(),
            _ => format!("{:.2} of {}", t.ratio, t.floor),
        };
        table += &format!(
            "| {} | {:.0} | {:.0} µs | {:.0} µs | {} |\n",
            t.server,
            median(t.rps.iter().copied()),
            t.p50_us,
            t.p99_us,
            against
        );
    }
    table += &format!("\nMethod: {}.\n\n", report.method);
    table += "| server | concurrent 2 s sleeps | answered | wall | latency p50 | p99 | max \
              | peak RSS | per connection | /nosleep p99 meanwhile |\n\
              | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
    for f in &report.fanout {
        let m = &f.measured;
        table += &format!(
            "| {} | {} | {} | {:.2} s | {:.3} s | {:.3} s | {:.3} s | {:.1} MiB | {:.1} KiB | \
             {:.2} ms ({} asked, {} unanswered in 5 s) |\n",
            f.server,
            m.requests,
            m.answered,
            m.wall_s,
            m.latency_p50_s,
            m.latency_p99_s,
            m.latency_max_s,
            f.peak_rss_kib as f64 / 1024.0,
            f.per_connection_kib,
            m.nosleep_p99_ms,
            m.nosleep_count,
            m.nosleep_unanswered
        );
    }
    table
        + &format!(
            "\nMethod: {}.\n\nMachine: {}.\n",
            report.fanout_method, report.machine
        )
}

/// Runs `binary` (its stdout to `log`) and wrk against its `/nosleep`.
fn measure(binary: &Path, log: &Path, seconds: u32, cores: usize) -> Run {
    let (server, url) = start(binary, log, cores);
    let mut wrk = pinned(Path::new("wrk"), 1, cores);
    let output = wrk
        .args([
            "-t1",
            "-c64",
            &format!("-d{seconds}s"),
            "--latency",
            &format!("{url}/nosleep"),
        ])
        .output()
        .expect("wrk runs");
    drop(server);
    parse_wrk(&String::from_utf8_lossy(&output.stdout))
}

/// Runs `count` concurrent sleeps against `binary`, with this program as the client.
fn fan_out(binary: &Path, log: &Path, count: usize, cores: usize) -> FanOut {
    let (server, url) = start(binary, log, cores);
    let pid = server.0.id();
    let idle = rss(pid, "VmRSS:");
    let client = pinned(&std::env::current_exe().unwrap(), 1, cores)
        .args([
            "fanout-client",
            url.trim_start_matches("http://"),
            &count.to_string(),
        ])
        .arg(FANOUT_SLEEP.to_string())
        .output()
        .expect("the fan-out client runs");
    let peak = rss(pid, "VmHWM:");
    drop(server);
    let measured: fanout::Measured = serde_json::from_slice(&client.stdout).unwrap_or_else(|e| {
        panic!(
            "fan-out client: {e}: {}",
            String::from_utf8_lossy(&client.stderr)
        )
    });
    FanOut {
        server: binary.file_name().unwrap().to_string_lossy().into_owned(),
        per_connection_kib: peak.saturating_sub(idle) as f64 / count as f64,
        measured,
        idle_rss_kib: idle,
        peak_rss_kib: peak,
    }
}

/// A field of `/proc/<pid>/status`, in KiB.
fn rss(pid: u32, field: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .unwrap_or("0 kB");
    line.split_whitespace()
        .next()
        .unwrap_or("0")
        .parse()
        .unwrap_or(0)
}

/// Starts `binary` pinned to core 0, its log going to `log`; returns it and its URL.
fn start(binary: &Path, log: &Path, cores: usize) -> (Server, String) {
    // Its output, the request log, goes straight to a file, as a logging server's would.
    let mut server = pinned(binary, 0, cores);
    server
        .args(["--port", "0"])
        .stdout(fs::File::create(log).unwrap())
        .stderr(Stdio::null());
    let child = Server(server.spawn().expect("the server starts"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let output = fs::read_to_string(log).unwrap_or_default();
        if let Some(target) = output.lines().find_map(Target::announced_by) {
            return (child, target.url);
        }
        assert!(
            Instant::now() < deadline,
            "{} did not say where it listens",
            binary.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn pinned(program: &Path, core: usize, cores: usize) -> Command {
    if cores >= 2 {
        let mut command = Command::new("taskset");
        command.arg("-c").arg(core.to_string()).arg(program);
        command
    } else {
        Command::new(program)
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
    Run {
        rps: field("Requests/sec:").parse().unwrap(),
        p50_us: micros(field("50%")),
        p99_us: micros(field("99%")),
    }
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
fn build(root: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    for targets in [
        &["-p", "sync-server", "-p", "async-server"][..],
        &[
            "-p",
            "bench",
            "--bin",
            "hello-hyper",
            "--bin",
            "hello-tiny-http",
            "--bin",
            "hello-tiny-http-response",
        ],
    ] {
        let status = Command::new(&cargo)
            .current_dir(root)
            .args(["build", "--release"])
            .args(targets)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "the release build failed");
    }
}

fn ensure_wrk() {
    if Command::new("wrk").arg("--version").output().is_ok() {
        return;
    }
    eprintln!("installing wrk (Debian package)");
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
        .args(["install", "-y", "-qq", "wrk"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status();
    assert!(status.is_ok_and(|s| s.success()), "cannot install wrk");
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
