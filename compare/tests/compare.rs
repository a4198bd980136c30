//! `compare` against the real servers, scaled down: it must find the sync server blocked and
//! the async one not, write sound JSON and SVG, and leave no server behind however it ends.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::Server;

const COMPARE: &str = env!("CARGO_BIN_EXE_compare");

fn server_binary(name: &str) -> PathBuf {
    testkit::workspace_binary(name)
}

fn spawnable() {
    server_binary("sync-server");
    server_binary("async-server");
}

/// The longest a compare run of these tests may take: the answer page at half scale with the
/// seed's servers, under a loaded machine.
const RUN_PATIENCE: Duration = Duration::from_secs(180);

fn compare(args: &[&str]) -> (Output, String) {
    let output = testkit::run_within(COMPARE, args, RUN_PATIENCE);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output, stdout)
}

/// Runs compare with `args`, which write its JSON to `json`; it must succeed. Returns the report
/// and what it printed.
fn succeeded(args: &[&str], json: &Path) -> (Value, String) {
    let (output, stdout) = compare(args);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    (report, stdout)
}

/// A file's path in a directory of its own, removed with all it holds (a picture written
/// beside the file, say) when the test ends, however it ends.
struct Scratch {
    dir: PathBuf,
    path: PathBuf,
}

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn scratch(name: &str) -> Scratch {
    static MADE: AtomicUsize = AtomicUsize::new(0);
    let made = MADE.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("compare-test-{}-{made}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    Scratch {
        path: dir.join(name),
        dir,
    }
}

fn server<'a>(report: &'a Value, scenario: &str, server: &str) -> &'a Value {
    let scenario = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == scenario)
        .unwrap_or_else(|| panic!("no scenario {scenario}"));
    let servers = scenario["servers"].as_array().unwrap();
    servers.iter().find(|s| s["server"] == server).unwrap()
}

fn latency(server: &Value, path: &str) -> f64 {
    let requests = server["requests"].as_array().unwrap();
    let request = requests.iter().find(|r| r["path"] == path).unwrap();
    request["latency_s"].as_f64().unwrap()
}

fn wall(server: &Value) -> f64 {
    let requests = server["requests"].as_array().unwrap();
    let first = requests
        .iter()
        .map(|r| r["sent_s"].as_f64().unwrap())
        .fold(f64::MAX, f64::min);
    let last = requests
        .iter()
        .map(|r| r["answered_s"].as_f64().unwrap())
        .fold(0.0, f64::max);
    last - first
}

/// At `--scale 0.1` the sleep is 0.5 s and the second request goes at 0.2 s.
#[test]
fn spawn_finds_sync_blocked_and_async_not_and_writes_json_and_svg() {
    spawnable();
    let (json, svg) = (scratch("spawn.json"), scratch("spawn.svg"));
    let args = [
        "--spawn",
        "--scale",
        "0.1",
        "seed",
        "fanout",
        "--requests",
        "3",
        "--json",
        json.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ];
    let (report, stdout) = succeeded(&args, &json);
    for scenario in ["seed", "seed-sleep", "fanout"] {
        let (sync, asynchronous) = (
            server(&report, scenario, "sync"),
            server(&report, scenario, "async"),
        );
        assert_eq!(sync["blocked"], true, "{scenario}: {}", sync["verdict"]);
        assert_eq!(
            asynchronous["blocked"], false,
            "{scenario}: {}",
            asynchronous["verdict"]
        );
        assert!(stdout.contains(sync["verdict"].as_str().unwrap()));
    }
    // seed: the /nosleep, sent 0.2 s into a 0.5 s sleep, waits out the rest on sync only.
    assert!(latency(server(&report, "seed", "sync"), "/nosleep") > 0.2);
    assert!(latency(server(&report, "seed", "async"), "/nosleep") < 0.125);
    // fanout: three sleeps take three times one on sync, about one on async.
    let (sync_wall, async_wall) = (
        wall(server(&report, "fanout", "sync")),
        wall(server(&report, "fanout", "async")),
    );
    assert!((1.4..3.0).contains(&sync_wall), "{sync_wall}");
    assert!((0.45..0.75).contains(&async_wall), "{async_wall}");

    let text = std::fs::read_to_string(&svg).unwrap();
    let picture = roxmltree::Document::parse(&text).expect("well-formed XML");
    let lanes: Vec<_> = picture
        .descendants()
        .filter(|node| node.attribute("class") == Some("lane"))
        .collect();
    assert_eq!(lanes.len(), (2 + 2 + 3) * 2, "one lane per request");
    for (scenario, server) in [("seed", "sync"), ("fanout", "async")] {
        assert!(lanes
            .iter()
            .any(|lane| lane.attribute("data-scenario") == Some(scenario)
                && lane.attribute("data-server") == Some(server)));
    }
}

#[test]
fn running_servers_are_measured_by_url() {
    let sync = Server::start(server_binary("sync-server").to_str().unwrap(), &[]);
    let asynchronous = Server::start(server_binary("async-server").to_str().unwrap(), &[]);
    let (sync_url, async_url) = (
        format!("http://{}", sync.addr()),
        format!("http://{}", asynchronous.addr()),
    );
    let (output, stdout) = compare(&["--sync", &sync_url, "--async", &async_url, "--scale", "0.1"]);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("sync-server at {sync_url}")),
        "{stdout}"
    );
    assert!(
        stdout.contains("sync: blocked: /nosleep waited"),
        "{stdout}"
    );
    assert!(
        stdout.contains("async: not blocked: /nosleep answered in"),
        "{stdout}"
    );
    let same_thread = format!("all requests ran on PID {}, TID", asynchronous.pid());
    assert!(stdout.contains(&same_thread), "{stdout}");
}

#[test]
fn a_server_that_does_not_answer_is_one_clear_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let async_server = Server::start(server_binary("async-server").to_str().unwrap(), &[]);
    let (output, _) = compare(&[
        "--sync",
        &format!("http://{closed}"),
        "--async",
        &format!("http://{}", async_server.addr()),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("sync-server at http://{closed} does not answer")),
        "{stderr}"
    );
}

#[test]
fn bad_flags_exit_2_with_one_line() {
    for args in [
        &["--scale", "0"][..],
        &["--scale", "13"],
        &["--requests", "0"],
        &["nonsense"],
        &["--sync", "localhost:1"],
    ] {
        let (output, _) = compare(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    }
}

/// Starts `compare --spawn` on a slow run and returns it with the PIDs of the servers it started.
fn spawn_slow_run() -> (std::process::Child, Vec<i32>) {
    spawnable();
    let mut child = Command::new(COMPARE)
        .args(["--spawn", "--scale", "0.4"]) // a 2 s sleep: time enough to interfere
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let pids = (0..2)
        .map(|_| {
            let line = lines.next().unwrap().unwrap();
            let pid = line
                .split("(PID ")
                .nth(1)
                .and_then(|rest| rest.split(')').next());
            pid.and_then(|pid| pid.parse().ok())
                .unwrap_or_else(|| panic!("{line:?}"))
        })
        .collect();
    // Keep draining stdout so compare never blocks on it.
    std::thread::spawn(move || lines.for_each(drop));
    (child, pids)
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn exit_of(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "compare did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn spawn_leaves_no_server_behind_when_a_request_fails() {
    let (mut child, pids) = spawn_slow_run();
    let sync_server = pids[0];
    // SAFETY: kills the sync-server this test's compare started.
    assert_eq!(unsafe { libc::kill(sync_server, libc::SIGKILL) }, 0);
    let status = exit_of(&mut child);
    assert_eq!(status.code(), Some(1), "unanswered requests fail the run");
    assert!(
        pids.iter().all(|&pid| !alive(pid)),
        "a server survived: {pids:?}"
    );
}

#[test]
fn spawn_leaves_no_server_behind_on_ctrl_c() {
    let (mut child, pids) = spawn_slow_run();
    // SAFETY: interrupts the compare this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let status = exit_of(&mut child);
    assert_eq!(status.code(), Some(130));
    assert!(
        pids.iter().all(|&pid| !alive(pid)),
        "a server survived: {pids:?}"
    );
}

/// `SIGKILL` reaches no handler: the kernel kills the servers compare started when it dies.
#[test]
fn spawn_leaves_no_server_behind_when_killed() {
    let (mut child, pids) = spawn_slow_run();
    child.kill().unwrap();
    let _ = child.wait();
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|&pid| alive(pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        pids.iter().all(|&pid| !alive(pid)),
        "a server survived: {pids:?}"
    );
}

#[test]
fn threads_block_and_offload_show_what_the_original_did_not() {
    spawnable();
    let json = scratch("beyond.json");
    let args = [
        "--spawn",
        "--scale",
        "0.1",
        "threads",
        "block",
        "offload",
        "--json",
        json.to_str().unwrap(),
    ];
    let (output, stdout) = compare(&args);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("started sync-server --threads 4 (PID"),
        "{stdout}"
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();

    // Four sleeps: queued on one thread, side by side on four.
    let (one, four) = (
        server(&report, "threads", "sync"),
        server(&report, "threads", "sync-threads"),
    );
    assert_eq!(
        (one["blocked"].as_bool(), four["blocked"].as_bool()),
        (Some(true), Some(false))
    );
    assert!(
        wall(one) > 1.8 && wall(four) < 0.75,
        "{} {}",
        wall(one),
        wall(four)
    );
    let tids: std::collections::BTreeSet<_> = four["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tid"].as_u64().unwrap())
        .collect();
    assert_eq!(tids.len(), 4, "{tids:?}");

    // A blocking call in the async handler holds up the /nosleep; offloaded, it does not.
    let blocked = server(&report, "block", "async");
    assert_eq!(blocked["blocked"], true, "{}", blocked["verdict"]);
    assert!(latency(blocked, "/nosleep") > 0.2);
    let offloaded = server(&report, "offload", "async");
    assert_eq!(offloaded["blocked"], false, "{}", offloaded["verdict"]);
    assert!(latency(offloaded, "/nosleep") < 0.125);
    let offload = &offloaded["requests"][0];
    assert!(offload["work_tid"].as_u64().is_some());
    assert_ne!(
        offload["work_tid"], offload["tid"],
        "the work ran off the runtime thread"
    );
}

/// At `--scale 0.25` each `/compute` is 0.5 s of CPU and each `pool` sleep 0.25 s.
#[test]
fn compute_cores_pool_and_crowded_show_what_async_does_not_buy() {
    spawnable();
    // Alone: CPU-bound work measured against the cores must have them to itself.
    let _alone = testkit::hostile::one_crowd_at_a_time();
    let json = scratch("cpu.json");
    let args = [
        "--spawn",
        "--scale",
        "0.25",
        "compute",
        "cores",
        "pool",
        "crowded",
        "--json",
        json.to_str().unwrap(),
    ];
    let (report, stdout) = succeeded(&args, &json);
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;

    // Computing holds the one thread on either server, and async-server says so in its log.
    for name in ["sync", "async"] {
        let compute = server(&report, "compute", name);
        assert_eq!(compute["blocked"], true, "{}", compute["verdict"]);
        assert_eq!(compute["as_predicted"], true, "{compute}");
        assert!(latency(compute, "/nosleep") > 0.2, "{compute}");
    }
    let lines = server(&report, "compute", "async")["blocked_lines"].clone();
    let lines: Vec<&str> = lines
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(lines.len() >= 2, "{lines:?}");
    assert!(lines
        .iter()
        .all(|l| l.starts_with("BLOCKED PID ") && l.contains("/compute")));
    assert!(stdout.contains("    log: BLOCKED PID "), "{stdout}");
    assert!(server(&report, "compute", "sync")["blocked_lines"]
        .as_array()
        .unwrap()
        .is_empty());

    // CPU work takes rounds of the core count, on threads or on the pool, and the prediction
    // says so from the core count.
    for name in ["sync-threads", "async"] {
        let run = server(&report, "cores", name);
        let predicted = (4.0 / cores).ceil() * 0.5;
        assert!((run["predicted_wall_s"].as_f64().unwrap() - predicted).abs() < 1e-9);
        assert_eq!(run["as_predicted"], true, "{run}");
        assert!(
            wall(run) >= predicted * 0.8,
            "{} against {predicted}",
            wall(run)
        );
    }

    // A bounded pool queues blocking work in rounds, as threads do: ⌈8/2⌉ × 0.25 s.
    let pool = server(&report, "pool", "async-pool");
    assert_eq!(pool["predicted_wall_s"].as_f64(), Some(1.0));
    assert_eq!(pool["as_predicted"], true, "{pool}");
    let workers: std::collections::BTreeSet<_> = pool["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["work_tid"].as_u64().unwrap())
        .collect();
    assert_eq!(workers.len(), 2, "{workers:?}");

    // More CPU offloaded than cores: every /nosleep is still answered, and measured.
    let crowded = server(&report, "crowded", "async");
    let nosleeps: Vec<f64> = crowded["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"] == "/nosleep")
        .map(|r| r["latency_s"].as_f64().unwrap())
        .collect();
    assert_eq!(nosleeps.len(), 4);
}

/// `scale` at a small size: the threaded server answers on as many threads as requests, the
/// async one on one, each prediction is computed from N, T and d, and memory is measured.
#[test]
fn scale_measures_threads_against_tasks() {
    spawnable();
    let (json, svg) = (scratch("scale.json"), scratch("scale.svg"));
    let args = [
        "--spawn",
        "scale",
        "--requests",
        "50",
        "--scale",
        "0.25",
        "--json",
        json.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ];
    let (report, stdout) = succeeded(&args, &json);
    let scale = &report["scale"];
    assert_eq!(scale["requests"], 50);
    let sleep = scale["sleep_s"].as_f64().unwrap();
    assert!((sleep - 0.5).abs() < 1e-9);
    let servers = scale["servers"].as_array().unwrap();
    let find = |command: &str| {
        let found = servers.iter().find(|s| s["command"] == command);
        found.unwrap_or_else(|| panic!("no {command} in {servers:?}"))
    };
    let (threaded, tasks, one) = (
        find("sync-server --threads 50"),
        find("async-server"),
        find("sync-server"),
    );
    for (server, threads, requests) in [(threaded, 50, 50), (tasks, 1, 50), (one, 1, 5)] {
        let measured = &server["measured"];
        assert_eq!(measured["answered"], requests, "{server}");
        assert_eq!(measured["handler_threads"], threads, "{server}");
        assert!(
            server["rss_per_request_kib"].as_f64().unwrap() > 0.0,
            "{server}"
        );
        assert!(
            server["peak_os_threads"].as_u64().unwrap() >= threads,
            "{server}"
        );
        assert_eq!(measured["latency_deciles_s"].as_array().unwrap().len(), 11);
    }
    // ⌈N/T⌉ · d: one round on 50 threads or on tasks, five on one thread (5 sent), and 50 for
    // all of them, the prediction alone.
    assert_eq!(threaded["predicted_wall_s"].as_f64(), Some(sleep));
    assert_eq!(tasks["predicted_wall_s"].as_f64(), Some(sleep));
    assert_eq!(one["predicted_wall_s"].as_f64(), Some(sleep * 5.0));
    assert_eq!(one["predicted_wall_for_all_s"].as_f64(), Some(sleep * 50.0));
    assert_eq!(tasks["as_predicted"], true, "{tasks}");
    assert_eq!(one["as_predicted"], true, "{one}");
    assert!(
        threaded["peak_os_threads"].as_u64() > tasks["peak_os_threads"].as_u64(),
        "a thread per request shows in the thread count"
    );
    let picture = std::fs::read_to_string(&svg).unwrap();
    assert!(
        picture.contains("class=\"scale\""),
        "the scale section is drawn"
    );
    assert!(stdout.contains("OS threads at the peak"), "{stdout}");
}

/// `query` and `db-pool` with `--spawn` start a throwaway PostgreSQL cluster and give it to the
/// servers: a query blocks sync-server and not async-server; eight queries take four rounds on
/// async-server's pool of two and one on sync-server's eight threads, on two connections and
/// on eight; each as predicted; and no cluster is left behind. (Alone: making a cluster takes a core for a moment.)
#[test]
fn query_finds_a_database_wait_blocks_sync_and_not_async_and_leaves_no_cluster() {
    spawnable();
    let _alone = testkit::hostile::one_crowd_at_a_time();
    let json = scratch("query.json");
    let args = ["--spawn", "--scale", "0.2", "query", "--json"];
    let (report, stdout) = succeeded(&[&args[..], &[json.to_str().unwrap()]].concat(), &json);
    assert!(stdout
        .contains("started a throwaway PostgreSQL cluster (max_connections 100) at postgres://"));
    let url = stdout
        .split_whitespace()
        .find(|word| word.starts_with("postgres://"))
        .unwrap();
    let port = pgcluster::port_of(url).unwrap();
    let (sync, asynchronous) = (
        server(&report, "query", "sync"),
        server(&report, "query", "async"),
    );
    assert_eq!(sync["blocked"], true, "{sync}");
    assert_eq!(asynchronous["blocked"], false, "{asynchronous}");
    assert!(latency(sync, "/nosleep") >= 0.4, "{sync}");
    assert!(latency(asynchronous, "/nosleep") < 0.1, "{asynchronous}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the cluster at {url} is still running"
    );

    // A second of work each: opening eight connections at once (tens of milliseconds) is
    // small beside it.
    let args = ["--spawn", "db-pool", "--json"];
    let (report, _) = succeeded(&[&args[..], &[json.to_str().unwrap()]].concat(), &json);
    let (pooled, threads) = (
        server(&report, "db-pool", "async-pool"),
        server(&report, "db-pool", "sync-many"),
    );
    assert!(
        (3.8..5.0).contains(&wall(pooled)),
        "four rounds of 1 s: {pooled}"
    );
    assert!(wall(threads) < 1.5, "one round of 1 s: {threads}");
    // What each held: a connection, and a backend, per thread; the pool's two on one thread.
    let peak = |server: &Value, what: &str| server["held"][what]["peak"].as_u64().unwrap();
    assert_eq!(peak(pooled, "database_connections"), 2, "{pooled}");
    assert_eq!(peak(threads, "database_connections"), 8, "{threads}");
    // PSS splits the shared buffers among every process that maps them, so eight backends
    // hold more than two, if not four times as much.
    assert!(
        peak(threads, "backends_pss_kib") > peak(pooled, "backends_pss_kib"),
        "eight backends against two: {threads} {pooled}"
    );
    assert_eq!(
        peak(pooled, "threads"),
        pooled["held"]["threads"]["before"].as_u64().unwrap(),
        "no thread more for eight queries: {pooled}"
    );
    for one in [sync, asynchronous, pooled, threads] {
        assert_eq!(one["as_predicted"], true, "{one}");
    }
}

/// `db-limit` on a database that takes 20 connections, 30 queries at once and 4 after: a pool
/// of 10 queues them and a thread per request waits for a connection handed back, neither
/// refusing any; Django on uvicorn (`--seed`) opens a connection per request's thread, is
/// refused past the 20, and keeps the burst's connections open, so the 4 after are refused as
/// well. Every lane alone on the database, at most 20 connections each.
#[test]
fn db_limit_queues_in_a_pool_and_refuses_a_connection_per_thread() {
    spawnable();
    let _alone = testkit::hostile::one_crowd_at_a_time();
    let json = scratch("db-limit.json");
    let args = ["--spawn", "--seed", "--scale", "0.4", "db-limit", "--json"];
    let (report, stdout) = succeeded(&[&args[..], &[json.to_str().unwrap()]].concat(), &json);
    assert!(stdout.contains("cluster (max_connections 20)"), "{stdout}");
    let peak = |server: &Value, what: &str| server["held"][what]["peak"].as_u64().unwrap();
    // A reading counts the server's sockets to the database's port, and a connection the
    // database is refusing is one until it is closed: sync-server's pool (r2d2) keeps trying on
    // its three helper threads while its 30 threads want more than the 20 the database takes.
    for (ours, attempts) in [("async-pool-10", 0), ("sync-threads-30", 3)] {
        let ours = server(&report, "db-limit", ours);
        assert_eq!(ours["refused"], 0, "{ours}");
        assert_eq!(ours["blocked"], true, "waited for a connection: {ours}");
        assert!(
            peak(ours, "database_connections") <= 20 + attempts,
            "{ours}"
        );
    }
    let pooled = server(&report, "db-limit", "async-pool-10");
    assert_eq!(peak(pooled, "database_connections"), 10, "{pooled}");
    let django = server(&report, "db-limit", "django-async");
    assert_eq!(
        django["refused"], 14,
        "10 of the burst and the 4 after: {django}"
    );
    let requests = django["requests"].as_array().unwrap();
    let later = &requests[30..];
    assert!(
        later.iter().all(|r| r["status"] == 500),
        "the burst's connections still held: {django}"
    );
}

/// `fetch` and `calls` with `--spawn` start an upstream (an async-server) and give it to the
/// servers: a call blocks sync-server and not async-server; three calls take three waits on
/// sync-server's handler thread and one on a thread per call or on async-server; each as
/// predicted.
#[test]
fn fetch_and_calls_show_what_waiting_on_several_at_once_takes() {
    spawnable();
    let json = scratch("fetch.json");
    // Calls of 0.4 s: long enough that a thread's start-up (a debug build) is noise beside it.
    let args = ["--spawn", "--scale", "0.4", "fetch", "calls", "--json"];
    let (report, stdout) = succeeded(&[&args[..], &[json.to_str().unwrap()]].concat(), &json);
    assert!(
        stdout.contains("started async-server --warn-blocked 0"),
        "{stdout}"
    );
    let (sync, asynchronous) = (
        server(&report, "fetch", "sync"),
        server(&report, "fetch", "async"),
    );
    assert_eq!(sync["blocked"], true, "{sync}");
    assert_eq!(asynchronous["blocked"], false, "{asynchronous}");
    assert!(latency(sync, "/nosleep") >= 0.8, "{sync}");
    assert!(latency(asynchronous, "/nosleep") < 0.1, "{asynchronous}");
    // Three calls of 0.4 s each.
    let (in_turn, on_threads, at_once) = (
        server(&report, "calls", "sync"),
        server(&report, "calls", "sync-via-threads"),
        server(&report, "calls", "async"),
    );
    assert!((1.2..1.6).contains(&wall(in_turn)), "{in_turn}");
    for quick in [on_threads, at_once] {
        assert!((0.4..0.6).contains(&wall(quick)), "{quick}");
        assert_eq!(quick["blocked"], false, "{quick}");
    }
    assert_eq!(in_turn["blocked"], true, "{in_turn}");
    for one in [sync, asynchronous, in_turn, on_threads, at_once] {
        assert_eq!(one["as_predicted"], true, "{one}");
    }
}

/// `fetch-scale` at a small size: a socket to the upstream per waiting request, then at most
/// ten, in ⌈N/10⌉ rounds; descriptors and memory measured.
#[test]
fn fetch_scale_counts_the_sockets_out_and_the_rounds_of_a_bound() {
    spawnable();
    let _alone = testkit::hostile::one_crowd_at_a_time();
    let json = scratch("fetch-scale.json");
    // Calls of 0.5 s: opening forty connections out (a debug build) is noise beside it.
    let args = [
        "--spawn",
        "fetch-scale",
        "--requests",
        "40",
        "--scale",
        "0.5",
        "--json",
    ];
    let (report, stdout) = succeeded(&[&args[..], &[json.to_str().unwrap()]].concat(), &json);
    let scale = &report["fetch_scale"];
    assert_eq!(
        (scale["requests"].as_u64(), scale["route"].as_str()),
        (Some(40), Some("/fetch"))
    );
    let wait = scale["sleep_s"].as_f64().unwrap();
    assert!((wait - 0.5).abs() < 1e-9, "{wait}");
    let servers = scale["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 4, "{servers:?}");
    for server in servers {
        assert_eq!(server["measured"]["answered"], 40, "{server}");
        assert_eq!(server["as_predicted"], true, "{server}");
        let out = server["peak_upstream_sockets"].as_u64().unwrap();
        let peak = server["peak_descriptors"].as_u64().unwrap();
        assert!(
            peak > server["idle_descriptors"].as_u64().unwrap() + out,
            "{server}"
        );
        match server["upstream_connections"].as_u64() {
            // Bounded: ten sockets at most, four rounds.
            Some(bound) => {
                assert_eq!(bound, 10);
                assert!((1..=10).contains(&out), "{server}");
                assert_eq!(server["predicted_wall_s"].as_f64(), Some(wait * 4.0));
            }
            // A socket per waiting request, one round.
            None => {
                assert!(out >= 30, "{server}");
                assert_eq!(server["predicted_wall_s"].as_f64(), Some(wait));
            }
        }
    }
    assert!(stdout.contains("sockets to the upstream"), "{stdout}");
}

/// `answer` at a small scale: the page has a row for each kind of wait and a column for each
/// design, every cell filled; each cell's verdict and mark are the scenario's own in the JSON of
/// the same run, and its `/nosleep` latency is the JSON's figure.
#[test]
fn answer_writes_one_table_whose_cells_are_the_runs_own_figures() {
    spawnable();
    let _alone = testkit::hostile::one_crowd_at_a_time();
    let (json, page) = (scratch("answer.json"), scratch("answer.md"));
    // At 0.5: each wait 1 s, so that a tenth of it (what counts as blocked) is well above what
    // Python's GIL costs a quick request beside a computing thread.
    let args = [
        "--spawn",
        "--seed",
        "answer",
        "--scale",
        "0.5",
        "--json",
        json.to_str().unwrap(),
        "--page",
        page.to_str().unwrap(),
    ];
    let (report, _) = succeeded(&args, &json);
    let text = std::fs::read_to_string(&page).unwrap();
    assert!(
        page.with_extension("svg").exists(),
        "the picture beside the page"
    );
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|line| {
            line.starts_with("| ") && !line.starts_with("| the view") && !line.starts_with("| ---")
        })
        .map(|line| line.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();
    let questions: Vec<&str> = rows.iter().map(|row| row[0]).collect();
    assert_eq!(
        questions,
        [
            "a timer",
            "CPU",
            "a database",
            "another service",
            "several services at once",
            "a blocking call in async code, by mistake",
            "a bounded pool",
            "traffic: 10% on a 50 ms timer, open loop (the highest rate swept with quick p99 under 100 ms)",
            "more traffic than it can serve: twice its capacity for T (answered in time; back to normal after the drop)"
        ]
    );
    // The traffic rows, without load and overload in the same run, say how to fill them.
    assert!(
        rows[7][1..].iter().all(|cell| cell.contains("with `load`")),
        "{:?}",
        rows[7]
    );
    assert!(
        rows[8][1..]
            .iter()
            .all(|cell| cell.contains("with `overload`")),
        "{:?}",
        rows[8]
    );
    let names = [
        "timer", "cpu", "database", "service", "services", "mistake", "pool",
    ];
    let designs = [
        "sync",
        "sync-threads",
        "async",
        "async-pool",
        "django-sync",
        "django-threads",
        "django-async",
    ];
    for (row, name) in rows.iter().zip(names) {
        assert_eq!(row.len(), 8, "{row:?}");
        let scenario = format!("answer-{name}");
        let ran = report["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == scenario);
        let servers = ran.unwrap_or_else(|| panic!("{scenario}"))["servers"]
            .as_array()
            .unwrap();
        for (cell, design) in row[1..].iter().zip(designs) {
            assert!(!cell.is_empty(), "{scenario} {design}");
            let Some(server) = servers.iter().find(|s| s["server"] == design) else {
                assert!(cell.starts_with('—'), "{scenario} {design}: {cell}");
                continue;
            };
            let blocked = server["blocked"].as_bool().unwrap();
            let word = if blocked { "blocked" } else { "not blocked" };
            assert!(
                cell.starts_with(&format!("{word};")),
                "{scenario} {design}: {cell}"
            );
            let mark = if server["as_predicted"] == true {
                " ✓"
            } else {
                " ✗"
            };
            assert!(cell.contains(mark), "{scenario} {design}: {cell}");
            assert_eq!(
                server["as_predicted"], true,
                "{scenario} {design}: {server}"
            );
            let held = &server["held"];
            let threads = format!(
                "{} → {} OS threads",
                held["threads"]["before"], held["threads"]["peak"]
            );
            assert!(
                cell.contains(&threads),
                "{scenario} {design}: {cell} lacks {threads}"
            );
            if name == "database" {
                let connections = held["database_connections"]["peak"].as_u64().unwrap();
                assert!(connections >= 1, "{scenario} {design}: {server}");
                let shown = format!("; {connections} database connection");
                assert!(
                    cell.contains(&shown),
                    "{scenario} {design}: {cell} lacks {shown}"
                );
            }
            let requests = server["requests"].as_array().unwrap();
            if let Some(quick) = requests.iter().find(|r| r["path"] == "/nosleep") {
                let latency = quick["latency_s"].as_f64().unwrap();
                let shown = if latency < 1.0 {
                    format!("/nosleep {:.1} ms", latency * 1000.0)
                } else {
                    format!("/nosleep {latency:.2} s")
                };
                assert!(
                    cell.contains(&shown),
                    "{scenario} {design}: {cell} lacks {shown}"
                );
            }
        }
    }
    assert!(text.contains("## What to choose, from these figures"));
    assert!(
        text.contains("--scale 0.5") && text.contains("Django==5.2.19"),
        "the page says how it was made"
    );
}

/// `growth` at a small size: `scale` at N/100, N/10 and N on a thread per request and a task per
/// request, each server started for its step, and the picture drawn with an axis per measure.
#[test]
fn growth_measures_the_cost_of_a_waiting_request_at_three_sizes() {
    spawnable();
    let _alone = testkit::hostile::one_crowd_at_a_time();
    let (json, svg) = (scratch("growth.json"), scratch("growth.svg"));
    let args = [
        "--spawn",
        "growth",
        "--requests",
        "200",
        "--scale",
        "0.25",
        "--json",
        json.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ];
    let (report, _) = succeeded(&args, &json);
    let steps = report["growth"].as_array().unwrap();
    let sizes: Vec<u64> = steps
        .iter()
        .map(|s| s["requests"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, [2, 20, 200]);
    for step in steps {
        let n = step["requests"].as_u64().unwrap();
        let servers = step["servers"].as_array().unwrap();
        assert_eq!(servers.len(), 2, "{step}");
        let (threads, tasks) = (&servers[0], &servers[1]);
        assert_eq!(threads["handler_threads"].as_u64(), Some(n), "{threads}");
        assert!(tasks["handler_threads"].is_null(), "{tasks}");
        for server in servers {
            assert_eq!(server["measured"]["answered"].as_u64(), Some(n), "{server}");
        }
        assert!(threads["peak_os_threads"].as_u64() >= Some(n), "{threads}");
        assert!(tasks["peak_os_threads"].as_u64() <= Some(4), "{tasks}");
    }
    let picture = std::fs::read_to_string(&svg).unwrap();
    assert!(picture.contains("class=\"growth\""));
    assert!(
        picture.contains("memory per waiting request")
            && picture.contains("OS threads at the peak")
    );
}

#[test]
fn load_sweeps_each_design_beside_the_model_and_writes_its_page() {
    spawnable();
    let _alone = testkit::hostile::one_crowd_at_a_time();
    let page = scratch("load.md");
    let json = scratch("load.json");
    let args = [
        "--spawn",
        "load",
        "--workload",
        "timer",
        "--duration",
        "0.5",
        "--load-page",
        page.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ];
    let (report, stdout) = succeeded(&args, &json);
    // A sweep per design, each step with its verdict, and the knees beside the model's.
    for design in [
        "one thread",
        "4 threads",
        "one event loop",
        "event loop + offload pool of 2",
    ] {
        assert!(
            stdout.contains(&format!("load: a timer (/sleep 50 ms) on {design}:")),
            "{design}: {stdout}"
        );
    }
    let verdicts = [
        "| holds |",
        "| does not hold |",
        "| past 0.8: shown |",
        "the client fell behind",
    ];
    let steps = stdout
        .lines()
        .filter(|l| verdicts.iter().any(|v| l.contains(v)))
        .count();
    assert!(steps >= 8, "{steps} steps: {stdout}");
    assert!(stdout.contains("quick p99 over 10× unloaded first at: measured"));
    // One thread's predicted knee is set by the wait: its thread is held for each 50 ms sleep,
    // so a tenth of the traffic waiting caps it at 1 / (0.1 × 50 ms) = 200/s. The event loop's
    // is set by its own time for a request: in a debug build, knees from 984/s (CI, a busy
    // machine) to 2,144/s have been seen, well over twice one thread's. At `--scale 0.2` (10 ms
    // sleeps, a cap of 1,000/s) a busy machine once brought the two within 15% of each other.
    let knee = |design: &str| -> f64 {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("load: a timer (/sleep 50 ms) on {design}:")))
            .unwrap();
        let at = line.rfind("predicted knee ").unwrap() + "predicted knee ".len();
        line[at..].trim_end_matches("/s").parse().unwrap()
    };
    let (event_loop, one_thread) = (knee("one event loop"), knee("one thread"));
    assert!(one_thread <= 200.0, "{one_thread}");
    assert!(
        event_loop > 2.0 * one_thread,
        "{event_loop} against {one_thread}"
    );
    let text = std::fs::read_to_string(&page).unwrap();
    assert!(
        text.contains("## 10% of the traffic waits on a timer"),
        "{text}"
    );
    assert!(text.contains("## Against the model"), "{text}");
    let svg = std::fs::read_to_string(page.with_extension("svg")).unwrap();
    assert!(
        roxmltree::Document::parse(&svg).is_ok(),
        "the picture is well-formed SVG"
    );
    // The JSON has every sweep's steps, each percentile measured beside its prediction, and
    // the knee the text printed.
    let sweeps = report["load"]["sweeps"].as_array().expect("load's sweeps");
    assert_eq!(sweeps.len(), 4, "{sweeps:?}");
    for sweep in sweeps {
        assert_eq!(sweep["workload"], "timer");
        assert_eq!(sweep["wait_s"], 0.05);
        let steps = sweep["steps"].as_array().unwrap();
        assert!(steps.len() >= 2, "{sweep}");
        for class in steps.iter().flat_map(|s| s["classes"].as_array().unwrap()) {
            for side in ["measured", "predicted"] {
                assert!(class[side]["p99_ms"].as_f64().unwrap() > 0.0, "{class}");
            }
        }
    }
    let one_thread = sweeps.iter().find(|s| s["design"] == "one-thread").unwrap();
    let capacity = one_thread["capacity"].as_f64().unwrap();
    assert_eq!(capacity.round(), knee("one thread"), "{one_thread}");
}

/// The measured figure of a cell written `measured (model)`.
fn measured_cell(cell: &str) -> f64 {
    let figure = cell.split_whitespace().next().unwrap_or("");
    figure.parse().unwrap_or(0.0)
}

#[test]
fn overload_takes_each_design_past_its_knee_and_back_beside_the_model() {
    spawnable();
    let _alone = testkit::hostile::one_crowd_at_a_time();
    let page = scratch("overload.md");
    let json = scratch("overload.json");
    let args = [
        "--spawn",
        "overload",
        "--duration",
        "1",
        "--overload-page",
        page.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ];
    let (report, stdout) = succeeded(&args, &json);
    // Each design's run, its periods and its summary beside the model and the formula.
    for design in [
        "one thread",
        "one thread, with a deadline",
        "4 threads",
        "4 threads, with a deadline",
        "event loop + offload pool of 2",
        "event loop + offload pool of 2, with a deadline",
        "one event loop",
    ] {
        assert!(
            stdout.contains(&format!("overload: {design} (")),
            "{design}: {stdout}"
        );
    }
    let summaries = stdout
        .lines()
        .filter(|l| l.starts_with("goodput in the overload") && l.contains("(model"))
        .count();
    assert_eq!(summaries, 7, "{stdout}");
    // With a deadline, one thread sheds in the overload: 503s, each answered within the
    // deadline of 200 ms where its work would have kept the others waiting.
    let block = stdout
        .split("overload: one thread, with a deadline (")
        .nth(1)
        .unwrap();
    let block = &block[..block.find("goodput in the overload").unwrap()];
    let shed: f64 = block
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| from") && !l.starts_with("| ---"))
        .map(|l| measured_cell(l.split('|').nth(5).unwrap()))
        .sum();
    assert!(shed > 0.0, "nothing shed: {block}");
    // Held at twice the capacity, each server stays within the stated bound.
    let held: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("overload held:"))
        .collect();
    assert_eq!(held.len(), 2, "{stdout}");
    assert!(
        held.iter().all(|l| l.contains("(within the bound")),
        "{held:?}"
    );
    let text = std::fs::read_to_string(&page).unwrap();
    assert!(text.contains("## In one table"), "{text}");
    let svg = std::fs::read_to_string(page.with_extension("svg")).unwrap();
    assert!(roxmltree::Document::parse(&svg).is_ok());
    // The JSON has every run period by period, measured beside predicted, and what the text
    // counted as shed.
    let overload = &report["overload"];
    assert_eq!(overload["settings"]["period_s"], 1.0);
    let runs = overload["runs"].as_array().expect("overload's runs");
    assert_eq!(runs.len(), 7, "{runs:?}");
    for run in runs {
        let periods = |side: &str| run[side].as_array().unwrap().len();
        assert_eq!(periods("measured"), 40, "{run}");
        assert_eq!(periods("predicted"), 40, "{run}");
        let held = run["held"].as_array().unwrap();
        assert!(
            held.iter().any(|h| h["threads"].as_u64() > Some(0)),
            "{run}"
        );
        assert!(
            held.iter().any(|h| h["rss_kib"].as_u64() > Some(0)),
            "{run}"
        );
    }
    let deadline = runs
        .iter()
        .find(|r| r["case"]["design"] == "one-thread" && r["case"]["sheds"] == true)
        .unwrap();
    let shed_in_json: f64 = deadline["measured"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["shed"].as_f64().unwrap())
        .sum();
    assert!(shed_in_json > 0.0, "{deadline}");
    assert_eq!(overload["bounded"].as_array().unwrap().len(), 2);
}
