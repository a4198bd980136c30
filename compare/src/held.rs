//! What each server holds while a scenario runs: its OS threads and memory, and its database
//! connections with the memory of the backends serving them, read from `/proc` every 20 ms
//! beside the requests. A thread per request shows here as threads, and, with a database, as a
//! connection and a backend process per thread; a task per request as neither.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use serde::Serialize;

/// How often the figures are read.
const EVERY: Duration = Duration::from_millis(20);

/// One figure before the scenario and at its peak.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Span {
    pub before: u64,
    pub peak: u64,
}

impl Span {
    fn new(now: u64) -> Span {
        Span {
            before: now,
            peak: now,
        }
    }

    fn see(&mut self, now: u64) {
        self.peak = self.peak.max(now);
    }
}

/// What one server held, before the scenario and at its peak.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Held {
    pub threads: Span,
    pub rss_kib: Span,
    /// Its TCP connections to the database's port.
    pub database_connections: Span,
    /// The proportional memory (PSS) of the backends serving them, each a process of its own.
    pub backends_pss_kib: Span,
}

/// The four figures at one moment.
struct Reading {
    threads: u64,
    rss_kib: u64,
    database_connections: u64,
    backends_pss_kib: u64,
}

impl Reading {
    /// What `pid` holds now; `database`: the database's port, if the servers use one. Its
    /// sockets to that port are listed once, for their count and the backends serving them.
    fn of(pid: u32, database: Option<u16>) -> Reading {
        let ports =
            database.map_or_else(Vec::new, |port| probe::process::local_ports_to(pid, port));
        let backends = probe::process::backends_serving(&ports);
        Reading {
            threads: probe::process::threads(pid),
            rss_kib: probe::process::rss_kib(pid),
            database_connections: ports.len() as u64,
            backends_pss_kib: backends.into_iter().map(probe::process::pss_kib).sum(),
        }
    }
}

impl Held {
    fn new(now: Reading) -> Held {
        Held {
            threads: Span::new(now.threads),
            rss_kib: Span::new(now.rss_kib),
            database_connections: Span::new(now.database_connections),
            backends_pss_kib: Span::new(now.backends_pss_kib),
        }
    }

    fn see(&mut self, now: Reading) {
        self.threads.see(now.threads);
        self.rss_kib.see(now.rss_kib);
        self.database_connections.see(now.database_connections);
        self.backends_pss_kib.see(now.backends_pss_kib);
    }

    /// One line: `1 → 9 OS threads, 12.0 → 15.3 MiB RSS; 0 → 8 database connections, their
    /// backends 0.0 → 52.1 MiB (PSS)`.
    pub fn line(&self) -> String {
        let mib = |kib: u64| format!("{:.1}", kib as f64 / 1024.0);
        let mut line = format!(
            "held (before → at the peak): {} → {} OS threads, {} → {} MiB RSS",
            self.threads.before,
            self.threads.peak,
            mib(self.rss_kib.before),
            mib(self.rss_kib.peak)
        );
        if self.database_connections.peak > 0 {
            line += &format!(
                "; {} → {} database connections, their backends {} → {} MiB (PSS)",
                self.database_connections.before,
                self.database_connections.peak,
                mib(self.backends_pss_kib.before),
                mib(self.backends_pss_kib.peak)
            );
        }
        line
    }
}

/// Runs `work` while reading what each of `pids` holds (`None`: a server this process did not
/// start, not read); `database` is the database's port on this machine, when the servers use
/// one. Returns what `work` returned and each server's figures.
pub fn while_running<T: Send>(
    pids: &[Option<u32>],
    database: Option<u16>,
    work: impl FnOnce() -> T + Send,
) -> (T, Vec<Option<Held>>) {
    let mut held: Vec<Option<Held>> = pids
        .iter()
        .map(|pid| pid.map(|pid| Held::new(Reading::of(pid, database))))
        .collect();
    let done = AtomicBool::new(false);
    let result = thread::scope(|scope| {
        let reader = scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                for (pid, held) in pids.iter().zip(&mut held) {
                    if let (Some(pid), Some(held)) = (pid, held) {
                        held.see(Reading::of(*pid, database));
                    }
                }
                thread::sleep(EVERY);
            }
        });
        let result = work();
        done.store(true, Ordering::Relaxed);
        reader.join().expect("the reader of /proc panicked");
        result
    });
    (result, held)
}

/// What a server held at one moment of a run, timed from the run's start.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub at: Duration,
    pub threads: u64,
    pub rss_kib: u64,
}

/// Runs `work` while reading `pid`'s threads and memory every `every`, for figures over time
/// (`overload`'s seconds). Returns what `work` returned and the readings.
pub fn sampled<T: Send>(
    pid: u32,
    every: Duration,
    work: impl FnOnce() -> T + Send,
) -> (T, Vec<Sample>) {
    let done = AtomicBool::new(false);
    let start = std::time::Instant::now();
    thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut samples = Vec::new();
            while !done.load(Ordering::Relaxed) {
                samples.push(Sample {
                    at: start.elapsed(),
                    threads: probe::process::threads(pid),
                    rss_kib: probe::process::rss_kib(pid),
                });
                thread::sleep(every);
            }
            samples
        });
        let result = work();
        done.store(true, Ordering::Relaxed);
        (result, reader.join().expect("the reader of /proc panicked"))
    })
}
