//! What `load` sweeps: the designs (the answer page's columns), the workloads (90% quick
//! requests, 10% of one kind of wait), and how each design is a set of FCFS stations for the
//! model ([`load::model`]), written once here and used for every prediction.

use std::time::Duration;

use load::model::{Design as Model, Stage, Station};
use probe::seed::Stack;
use serde::Serialize;

use crate::report::in_seconds;

/// The share of the traffic that waits; the rest is `/nosleep`.
pub const WAITING_SHARE: f64 = 0.1;

/// A design, and how the server that runs it is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Design {
    OneThread,
    FourThreads,
    EventLoop,
    OffloadPool,
    /// The seed's Django project on `runserver --nothreading` (with `--seed`).
    DjangoSync,
    /// On Django's default `runserver`, a thread per request.
    DjangoThreads,
    /// Its async views on `uvicorn --workers 1`.
    DjangoAsync,
}

/// How a design's server is started.
pub enum Server {
    /// One of ours: the binary and its flags.
    Ours(&'static str, Vec<String>),
    /// One of the seed's.
    Seed(Stack),
}

/// The handler threads of `FourThreads`, and the blocking threads of `OffloadPool`.
const THREADS: usize = 4;
const OFFLOAD_THREADS: usize = 2;
/// async-server's own database pool (`--db-pool`'s default).
const DB_POOL: usize = 10;

impl Design {
    pub const ALL: [Design; 4] = [
        Design::OneThread,
        Design::FourThreads,
        Design::EventLoop,
        Design::OffloadPool,
    ];

    /// The seed's, run with `--seed`.
    pub const SEED: [Design; 3] = [
        Design::DjangoSync,
        Design::DjangoThreads,
        Design::DjangoAsync,
    ];

    pub fn is_seed(self) -> bool {
        Design::SEED.contains(&self)
    }

    pub fn label(self) -> &'static str {
        match self {
            Design::OneThread => "one thread",
            Design::FourThreads => "4 threads",
            Design::EventLoop => "one event loop",
            Design::OffloadPool => "event loop + offload pool of 2",
            Design::DjangoSync => "Django runserver --nothreading",
            Design::DjangoThreads => "Django runserver, a thread per request",
            Design::DjangoAsync => "Django async views on uvicorn",
        }
    }

    /// How its server is started.
    pub fn server(self) -> Server {
        let quiet = ["--warn-blocked".to_owned(), "0".to_owned()];
        match self {
            Design::OneThread => Server::Ours("sync-server", vec![]),
            Design::FourThreads => {
                Server::Ours("sync-server", vec!["--threads".into(), THREADS.to_string()])
            }
            Design::EventLoop => Server::Ours("async-server", quiet.to_vec()),
            Design::OffloadPool => {
                let pool = ["--blocking-threads".into(), OFFLOAD_THREADS.to_string()];
                Server::Ours("async-server", pool.into_iter().chain(quiet).collect())
            }
            Design::DjangoSync => Server::Seed(Stack::Runserver),
            Design::DjangoThreads => Server::Seed(Stack::ThreadedRunserver),
            Design::DjangoAsync => Server::Seed(Stack::Uvicorn),
        }
    }
}

/// What a request costs, as measured on the unloaded server at the start of the run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Cost {
    /// A quick request's CPU on the design's own threads (the handler threads, or the loop).
    #[serde(rename = "quick_s", with = "in_seconds")]
    pub quick: Duration,
    /// A waiting request's CPU there: for `/compute` on a handler thread or the loop, the work
    /// itself included; for the others only what surrounds the wait (a client's parsing, a
    /// hand-off to a pool).
    #[serde(rename = "waiting_s", with = "in_seconds")]
    pub waiting: Duration,
    /// The rest of a quick request's latency: the client, the kernel, tiny_http's reading
    /// threads. A delay that holds nothing of the design's.
    #[serde(rename = "elsewhere_s", with = "in_seconds")]
    pub elsewhere: Duration,
}

/// What the waiting tenth of the traffic waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// A timer: `/sleep` of 50 ms.
    Timer,
    /// CPU: `/compute` of 10 ms.
    Cpu,
    /// The database: `/query` of 50 ms.
    Database,
    /// Another service: `/fetch` of 50 ms.
    Service,
    /// The mistake: `/block` of 50 ms, a blocking sleep on the event loop.
    Mistake,
}

impl Workload {
    pub const ALL: [Workload; 5] = [
        Workload::Timer,
        Workload::Cpu,
        Workload::Database,
        Workload::Service,
        Workload::Mistake,
    ];

    /// What the waiting tenth waits on, and for how long: `wait` is [`Workload::wait`] scaled.
    pub fn label(self, wait: Duration) -> String {
        let (kind, route) = match self {
            Workload::Timer => ("a timer", "/sleep"),
            Workload::Cpu => ("CPU", "/compute"),
            Workload::Database => ("the database", "/query"),
            Workload::Service => ("another service", "/fetch"),
            Workload::Mistake => ("the mistake", "/block"),
        };
        let ms = (wait.as_secs_f64() * 1e6).round() / 1e3;
        format!("{kind} ({route} {ms} ms)")
    }

    /// The wait each waiting request asks for.
    pub fn wait(self) -> Duration {
        match self {
            Workload::Cpu => Duration::from_millis(10),
            _ => Duration::from_millis(50),
        }
    }

    pub fn needs_database(self) -> bool {
        self == Workload::Database
    }

    pub fn needs_upstream(self) -> bool {
        self == Workload::Service
    }

    /// The waiting request's path on `design`, asking for `wait`, or `None` where the design has
    /// no such request (the mistake exists only in async code).
    pub fn path(self, design: Design, wait: Duration) -> Option<String> {
        let seconds = wait.as_secs_f64();
        let offloaded = design == Design::OffloadPool;
        let has_a_loop = matches!(design, Design::EventLoop | Design::DjangoAsync);
        Some(match (self, offloaded) {
            (Workload::Mistake, _) if !has_a_loop => return None,
            (Workload::Mistake, _) => format!("/block?seconds={seconds}"),
            (Workload::Timer, false) => format!("/sleep?seconds={seconds}"),
            (Workload::Timer, true) => format!("/offload?seconds={seconds}"),
            (Workload::Cpu, false) => format!("/compute?seconds={seconds}"),
            (Workload::Cpu, true) => format!("/offload?seconds={seconds}&work=compute"),
            (Workload::Database, false) => format!("/query?seconds={seconds}"),
            (Workload::Database, true) => format!("/offload?seconds={seconds}&work=query"),
            (Workload::Service, _) => format!("/fetch?seconds={seconds}"),
        })
    }

    /// `design` as stations, from what a request costs ([`Cost`]) and the waiting request's own
    /// `wait`. The classes are the quick request, then the waiting one; both first spend
    /// `cost.elsewhere`, holding nothing.
    ///
    /// | design | what holds a server | servers |
    /// | --- | --- | --- |
    /// | one thread | the whole request, its wait included | 1 |
    /// | 4 threads | the whole request; CPU work also needs a core | 4, or the cores for CPU work |
    /// | event loop | only the request's CPU; a timer or socket wait is a pure delay; a pooled wait holds one of the pool's slots | 1, and the database pool's 10 |
    /// | event loop with an offload pool of 2 | the loop for the request's own CPU, then a pool thread for the work | 1, and 2 |
    /// | Django runserver --nothreading | as one thread, with Python's own cost | 1 |
    /// | Django runserver, a thread per request | the GIL for the request's CPU (the work itself, for CPU); a wait is a pure delay | 1 |
    /// | Django on uvicorn | as an event loop; a query runs on a thread of the request's own | 1 |
    pub fn model(self, design: Design, cost: Cost, wait: Duration, cores: usize) -> Model {
        let model = self.stations(design, cost, wait, cores);
        let before = Stage::Delay(cost.elsewhere);
        Model {
            classes: model
                .classes
                .into_iter()
                .map(|stages| std::iter::once(before).chain(stages).collect())
                .collect(),
            ..model
        }
    }

    fn stations(self, design: Design, cost: Cost, wait: Duration, cores: usize) -> Model {
        let hold = |station, time| Stage::Hold { station, time };
        let station = |name: &str, servers| Station {
            name: name.to_owned(),
            servers,
        };
        let quick = vec![hold(0, cost.quick)];
        // `/compute` spends its wait as CPU, counted in `cost.waiting` where the design's own
        // threads run it; every other wait is spent asleep or in a socket.
        let computes = self == Workload::Cpu;
        let held_through = if computes {
            cost.waiting
        } else {
            cost.waiting + wait
        };
        match design {
            Design::OneThread | Design::FourThreads | Design::DjangoSync => {
                let threads = if design == Design::FourThreads {
                    THREADS
                } else {
                    1
                };
                let servers = if computes {
                    threads.min(cores)
                } else {
                    threads
                };
                Model {
                    stations: vec![station("handler threads", servers)],
                    classes: vec![quick, vec![hold(0, held_through)]],
                }
            }
            Design::EventLoop => {
                let waiting = match self {
                    Workload::Cpu | Workload::Mistake => vec![hold(0, held_through)],
                    Workload::Database => vec![hold(0, cost.waiting), hold(1, wait)],
                    Workload::Timer | Workload::Service => {
                        vec![hold(0, cost.waiting), Stage::Delay(wait)]
                    }
                };
                Model {
                    stations: vec![station("event loop", 1), station("database pool", DB_POOL)],
                    classes: vec![quick, waiting],
                }
            }
            // A thread per request, but Python runs one thread at a time: its CPU is one station.
            Design::DjangoThreads => {
                let waiting = match self {
                    Workload::Cpu | Workload::Mistake => vec![hold(0, held_through)],
                    _ => vec![hold(0, cost.waiting), Stage::Delay(wait)],
                };
                Model {
                    stations: vec![station("the GIL", 1)],
                    classes: vec![quick, waiting],
                }
            }
            // A query's `sync_to_async` runs on a thread of the request's own: Django's ASGI
            // handler gives each request its own (asgiref's ThreadSensitiveContext), so the
            // query holds nothing the others need, as on threads.
            Design::DjangoAsync => {
                let waiting = match self {
                    Workload::Cpu | Workload::Mistake => vec![hold(0, held_through)],
                    _ => vec![hold(0, cost.waiting), Stage::Delay(wait)],
                };
                Model {
                    stations: vec![station("event loop", 1)],
                    classes: vec![quick, waiting],
                }
            }
            Design::OffloadPool => {
                let waiting = match self {
                    Workload::Service => vec![hold(0, cost.waiting), Stage::Delay(wait)],
                    _ => vec![hold(0, cost.waiting), hold(1, wait)],
                };
                Model {
                    stations: vec![
                        station("event loop", 1),
                        station("offload pool", OFFLOAD_THREADS),
                    ],
                    classes: vec![quick, waiting],
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_label_names_the_wait_the_server_was_asked_for() {
        assert_eq!(Workload::Timer.label(50 * MS), "a timer (/sleep 50 ms)");
        // At `--scale 0.05` the computation asked for is half a millisecond, and says so.
        let half = Workload::Cpu.wait().mul_f64(0.05);
        assert_eq!(Workload::Cpu.label(half), "CPU (/compute 0.5 ms)");
    }

    #[test]
    fn each_design_s_knee_is_where_its_busiest_station_saturates() {
        let shares = [1.0 - WAITING_SHARE, WAITING_SHARE];
        // What is spent elsewhere holds nothing: only the server's 0.1 ms counts, and for
        // /compute the 10 ms of work besides.
        let knee = |workload: Workload, design| {
            let computed = if workload == Workload::Cpu {
                workload.wait()
            } else {
                Duration::ZERO
            };
            let cost = Cost {
                quick: MS / 10,
                waiting: MS / 10 + computed,
                elsewhere: MS / 5,
            };
            workload
                .model(design, cost, workload.wait(), 2)
                .capacity(&shares)
        };
        // One thread holds 0.1 ms for 90% and 50.1 ms for 10%: 5.1 ms a request, 196/s.
        assert!((knee(Workload::Timer, Design::OneThread) - 196.08).abs() < 0.1);
        assert!((knee(Workload::Timer, Design::FourThreads) - 784.3).abs() < 0.1);
        // The loop holds only 0.1 ms a request: 10,000/s.
        assert!((knee(Workload::Timer, Design::EventLoop) - 10_000.0).abs() < 0.1);
        // CPU: 1.1 ms a request on the loop; 4 threads on 2 cores do as 2.
        assert!((knee(Workload::Cpu, Design::EventLoop) - 909.09).abs() < 0.1);
        assert!((knee(Workload::Cpu, Design::FourThreads) - 1818.18).abs() < 0.1);
        // The pool of 2 offload threads: 5 ms of pool a request on average, 400/s.
        assert!((knee(Workload::Timer, Design::OffloadPool) - 400.0).abs() < 0.1);
        // The database pool of 10: 50 ms for a tenth, 2,000/s.
        assert!((knee(Workload::Database, Design::EventLoop) - 2000.0).abs() < 0.1);
        assert_eq!(Workload::Mistake.path(Design::OneThread, MS * 50), None);
        assert_eq!(
            Workload::Cpu.path(Design::OffloadPool, MS * 10).unwrap(),
            "/offload?seconds=0.01&work=compute"
        );
    }
}
