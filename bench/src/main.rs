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
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use probe::Target;
use serde::Serialize;

/// A server under measurement, and the floor it is compared with.
const PAIRS: [(&str, &str); 2] = [
    ("async-server", "hello-hyper"),
    ("sync-server", "hello-tiny-http"),
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
    floor: String,
    /// Requests per second, one figure per round.
    server_rps: Vec<f64>,
    floor_rps: Vec<f64>,
    /// The median of `server_rps` over the median of `floor_rps`.
    ratio: f64,
    server_p50_us: f64,
    server_p99_us: f64,
    floor_p50_us: f64,
    floor_p99_us: f64,
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
    for (server, floor) in PAIRS {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            // Alternate which goes first, so neither always meets a warmer or cooler machine.
            let order = if round % 2 == 0 {
                [server, floor]
            } else {
                [floor, server]
            };
            for name in order {
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
                if name == server {
                    ours.push(run)
                } else {
                    theirs.push(run)
                }
            }
        }
        let (ours_rps, theirs_rps) = (
            median(ours.iter().map(|r| r.rps)),
            median(theirs.iter().map(|r| r.rps)),
        );
        throughput.push(Throughput {
            server: server.to_owned(),
            floor: floor.to_owned(),
            server_rps: ours.iter().map(|r| r.rps.round()).collect(),
            floor_rps: theirs.iter().map(|r| r.rps.round()).collect(),
            ratio: ours_rps / theirs_rps,
            server_p50_us: median(ours.iter().map(|r| r.p50_us)),
            server_p99_us: median(ours.iter().map(|r| r.p99_us)),
            floor_p50_us: median(theirs.iter().map(|r| r.p50_us)),
            floor_p99_us: median(theirs.iter().map(|r| r.p99_us)),
        });
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
             {rounds} rounds alternating each server with its floor, medians reported; logging on, \
             stdout to a file; release build{}",
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
        "| server | req/s | p50 | p99 | minimal server | req/s | p50 | p99 | ratio |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for t in &report.throughput {
        let median_rps = |all: &[f64]| median(all.iter().copied());
        table += &format!(
            "| {} | {:.0} | {:.0} µs | {:.0} µs | {} | {:.0} | {:.0} µs | {:.0} µs | {:.2} |\n",
            t.server,
            median_rps(&t.server_rps),
            t.server_p50_us,
            t.server_p99_us,
            t.floor,
            median_rps(&t.floor_rps),
            t.floor_p50_us,
            t.floor_p99_us,
            t.ratio
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
    let mut server = pinned(binary, 0, cores);
    server
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = Server(server.spawn().expect("the server starts"));
    let mut output = BufReader::new(child.0.stdout.take().unwrap());
    let mut first = String::new();
    output.read_line(&mut first).unwrap();
    let url = Target::announced_by(&first).expect("a listening line").url;
    // The rest of its output (the request log) goes to a file, as a logging server's would.
    let mut sink = fs::File::create(log).unwrap();
    std::thread::spawn(move || std::io::copy(&mut output, &mut sink).ok());
    (child, url)
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
