//! Many sleeps at once (fan-out): for each server and count, the runner's own client holds that
//! many `/sleep` open, and the server's memory and threads are read meanwhile. The `/fetch` rows
//! do the same with each request a call to an upstream (an async-server) that sleeps.

use std::path::Path;

use serde::Serialize;

use crate::launch::{pinned, Launch};

#[derive(Serialize)]
pub(crate) struct FanOut {
    pub(crate) server: String,
    #[serde(flatten)]
    pub(crate) measured: probe::crowd::Measured,
    pub(crate) idle_rss_kib: u64,
    pub(crate) peak_rss_kib: u64,
    /// (peak - idle) / requests.
    pub(crate) per_connection_kib: f64,
    /// The most OS threads the server ran while the sleeps waited.
    pub(crate) peak_threads: u64,
    /// For a `/query` row: the most connections the server held to the database, and the most
    /// memory (PSS) the backends serving them held together.
    pub(crate) peak_database_connections: Option<u64>,
    pub(crate) peak_backends_pss_kib: Option<u64>,
}

/// sync-server with as many handler threads as waiting requests, at each fan-out size, and
/// room under its `--max-connections` (10,000 unless told) for them and the `/nosleep` sent
/// meanwhile.
pub(crate) const THREADED: [(&str, usize); 3] = [
    ("sync-server --threads 100", 100),
    ("sync-server --threads 1000", 1000),
    (
        "sync-server --threads 10000 --max-connections 10100",
        10_000,
    ),
];

/// How long each fan-out request sleeps.
pub(crate) const FANOUT_SLEEP: f64 = 2.0;

/// How long each `/query` of the database fan-out waits in the database, how many are sent at
/// once, and the pool they share: ⌈1000/100⌉ = 10 rounds.
pub(crate) const QUERY_WAIT: f64 = 0.5;
pub(crate) const QUERIES: usize = 1000;
pub(crate) const QUERY_POOL: usize = 100;
/// The `max_connections` of the cluster they run on: room for the pool, twice over.
pub(crate) const QUERY_MAX_CONNECTIONS: u32 = 2 * QUERY_POOL as u32 + 10;

/// What one fan-out asks: `count` concurrent `route` (`/sleep`, `/fetch`, `/query`) of
/// `seconds`, and for `/query` the database's port, whose connections are counted.
#[derive(Clone, Copy)]
pub(crate) struct Crowd<'a> {
    pub(crate) route: &'a str,
    pub(crate) count: usize,
    pub(crate) seconds: f64,
    pub(crate) database: Option<u16>,
}

/// Runs `crowd` against `launch`, with this program as the client; the row is called `server`.
pub(crate) fn fan_out(
    (launch, server): (&Launch, String),
    log: &Path,
    crowd: &Crowd,
    cores: usize,
) -> FanOut {
    let (running, url) = launch.start(log, cores);
    let pid = running.pid();
    let idle = probe::process::rss_kib(pid);
    let waiting = std::sync::atomic::AtomicBool::new(true);
    let count = crowd.count;
    let (client, (peak_threads, peak_connections, peak_backends)) = std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let (mut threads, mut connections, mut backends) = (0, 0, 0);
            while waiting.load(std::sync::atomic::Ordering::Relaxed) {
                threads = u64::max(threads, probe::process::threads(pid));
                if let Some(port) = crowd.database {
                    let ports = probe::process::local_ports_to(pid, port);
                    let serving = probe::process::backends_serving(&ports);
                    connections = connections.max(ports.len() as u64);
                    backends = backends.max(serving.into_iter().map(probe::process::pss_kib).sum());
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            (threads, connections, backends)
        });
        let client = pinned(&std::env::current_exe().unwrap(), 1, cores)
            .args([
                "fanout-client",
                url.trim_start_matches("http://"),
                &count.to_string(),
            ])
            .args([&crowd.seconds.to_string(), crowd.route])
            .output()
            .expect("the fan-out client runs");
        waiting.store(false, std::sync::atomic::Ordering::Relaxed);
        (client, sampler.join().unwrap())
    });
    let peak = probe::process::peak_rss_kib(pid);
    drop(running);
    let measured: probe::crowd::Measured =
        serde_json::from_slice(&client.stdout).unwrap_or_else(|e| {
            panic!(
                "fan-out client: {e}: {}",
                String::from_utf8_lossy(&client.stderr)
            )
        });
    FanOut {
        server,
        per_connection_kib: peak.saturating_sub(idle) as f64 / count as f64,
        measured,
        idle_rss_kib: idle,
        peak_rss_kib: peak,
        peak_threads,
        peak_database_connections: crowd.database.map(|_| peak_connections),
        peak_backends_pss_kib: crowd.database.map(|_| peak_backends),
    }
}

/// Every fan-out row: ours and the floor at each size (`quick`: 100 and 1,000; else 10,000 too),
/// sync-server with one thread at 5 and with a thread per request at each size, and with `seed`
/// the seed's servers at the sizes they take in reasonable time.
pub(crate) fn measure_all(
    bin: &Path,
    logs: &Path,
    quick: bool,
    cores: usize,
    seed: Option<[Launch; 3]>,
) -> Vec<FanOut> {
    let sizes: &[usize] = if quick {
        &[100, 1000]
    } else {
        &[100, 1000, 10_000]
    };
    let mut fanouts = Vec::new();
    let mut crowds = vec![
        (Launch::ours(bin, "async-server"), sizes),
        (Launch::ours(bin, "hello-hyper"), sizes),
        (Launch::ours(bin, "sync-server"), &[5][..]),
    ];
    // A thread per waiting request: as many handler threads as requests.
    for (name, count) in &THREADED {
        if sizes.contains(count) {
            crowds.push((Launch::ours(bin, name), std::slice::from_ref(count)));
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
    let mut run = |launch: &Launch, server: String, crowd: Crowd| {
        let log = logs.join(format!("{}.log", server.replace([' ', '/'], "_")));
        let measured = fan_out((launch, server), &log, &crowd, cores);
        eprintln!(
            "{}: {} {}: {} answered in {:.2} s",
            measured.server,
            crowd.count,
            crowd.route,
            measured.measured.answered,
            measured.measured.wall_s
        );
        fanouts.push(measured);
    };
    let sleeps = |route, count| Crowd {
        route,
        count,
        seconds: FANOUT_SLEEP,
        database: None,
    };
    for (launch, counts) in &crowds {
        for &count in counts.iter() {
            run(launch, launch.name.to_owned(), sleeps("/sleep", count));
        }
    }
    // The same waits as calls to an upstream, which sleeps: a socket out for each, on
    // async-server and on sync-server with a thread per request (100 and 1,000).
    let upstream = Launch::ours(bin, "async-server --warn-blocked 0");
    let (_upstream, url) = upstream.start(&logs.join("fanout-upstream.log"), cores);
    for &count in &sizes[..2] {
        let out = format!("--upstream {url} --upstream-connections {count}");
        let server = Launch::ours_with(bin, "async-server", &out);
        run(
            &server,
            "async-server /fetch".to_owned(),
            sleeps("/fetch", count),
        );
        let threads = format!("--threads {count} {out}");
        let server = Launch::ours_with(bin, "sync-server", &threads);
        run(
            &server,
            format!("sync-server --threads {count} /fetch"),
            sleeps("/fetch", count),
        );
    }
    // Waiting on a database: 1,000 /query at once on a pool of 100, a task each on
    // async-server, a thread each on sync-server; either way ten rounds of the pool.
    let cluster = pgcluster::Cluster::start(QUERY_MAX_CONNECTIONS)
        .expect("a throwaway database for the /query fan-out");
    let queries = Crowd {
        route: "/query",
        count: QUERIES,
        seconds: QUERY_WAIT,
        database: Some(cluster.port()),
    };
    let pool = format!(
        "--db-pool {QUERY_POOL} --db-wait 60 --database {}",
        cluster.url()
    );
    let server = Launch::ours_with(bin, "async-server", &pool);
    run(
        &server,
        format!("async-server --db-pool {QUERY_POOL} /query"),
        queries,
    );
    let threads = format!("--threads {QUERIES} {pool}");
    let server = Launch::ours_with(bin, "sync-server", &threads);
    let name = format!("sync-server --threads {QUERIES} --db-pool {QUERY_POOL} /query");
    run(&server, name, queries);
    fanouts
}
