//! `async-server`: the async half of the experiment, `uvicorn --workers 1`.
//!
//! One thread runs everything: a tokio `current_thread` runtime accepts connections, reads
//! requests and runs [`handle`]. `/sleep` awaits `tokio::time::sleep`, which hands the thread
//! back to the runtime until the timer fires, so other requests run in the meantime. `/block`
//! shows the mistake (a blocking sleep in an async handler) and `/offload` the fix (the blocking
//! sleep on tokio's blocking pool, awaited). `--workers N` runs N such runtimes, each on a thread
//! of its own with a socket of its own on the same port, like `uvicorn --workers N`.
//!
//! Read [`handle`] first, beside sync-server's: only the wait differs. Then [`start`], what
//! `main` does: bind, build the [`app`], build a [`runtime`] per worker (what makes this server
//! single-threaded), hear the signals, and hand all of it to [`server::run`], which starts the
//! workers and runs each one's accept loop. [`watchdog`] reports a runtime thread held from its
//! event loop.

/// One request: log its start, plan it, wait as the plan says, log its end, answer.
async fn handle(request: &Request<Incoming>, app: &'static App) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let who = Identity::current();
    let head = http::head(request);
    log::gather(|log| log.start(who, head));
    let headers = http::headers(request);
    let mut plan = app
        .router
        .plan(head, headers, who, app.shutdown.grace_left());
    if let Some(wait) = plan.wait {
        // The START line is out before the thread is held. An await hands the thread back
        // instead, and the runtime sends the log out when it has nothing left to run.
        if wait.holds_the_thread() {
            log::flush();
        }
        match wait {
            // The task is set aside until its timer fires, and the thread runs other requests'
            // tasks meanwhile: this is what async buys.
            AsyncWait::Sleep(duration) => tokio::time::sleep(duration).await,
            // Computing never awaits: nothing else runs on this thread until it is done.
            AsyncWait::Compute(cpu) => {
                work::compute(cpu);
            }
            // The mistake, on purpose: a blocking sleep holds the thread, and every task waits.
            AsyncWait::Block(duration) => thread::sleep(duration),
            // Set aside again, now until the database's answer arrives on its socket.
            AsyncWait::Query(seconds) => plan.answer.after_query(app.database.query(seconds).await),
            // Every call at once, awaited together: one task waits on all their sockets.
            AsyncWait::Fetch(calls) => plan.answer.after_fetch(app.upstream.fetch(calls).await),
            // The fix: the blocking work runs on a thread of tokio's blocking pool, and this task
            // awaits it as it would a timer.
            AsyncWait::Offload(work, duration) => match offload(app, head, work, duration).await {
                Some(Offloaded::Ran { tid, queried }) => {
                    plan.answer.work_tid = Some(tid);
                    if let Some(outcome) = queried {
                        plan.answer.after_query(outcome);
                    }
                }
                Some(Offloaded::Shed) => plan.answer = Answer::shed(),
                None => {}
            },
        }
    }
    log::gather(|log| log.done(who, head, &plan.answer, started.elapsed()));
    http::response(request, plan.answer, who)
}

/// What tokio's blocking pool did with work handed to it.
enum Offloaded {
    /// Ran it on the thread `tid`; for a query, with this outcome.
    Ran {
        tid: u64,
        queried: Option<Result<u32, String>>,
    },
    /// Left it undone: it waited for a thread longer than `--queue-deadline`.
    Shed,
}

/// Runs blocking `work` for `duration` on tokio's blocking pool, and waits for it to be done
/// (`None`: the work panicked). Work that waits in the pool's queue for a free thread (all
/// `--blocking-threads` busy) is looked at as it leaves the queue: past `--queue-deadline` it is
/// shed, and if this request has gone meanwhile (hyper drops a request's future when its client
/// hangs up, and the channel back then has no receiver), it is not run. Either gets a line in
/// the log from the pool's thread.
async fn offload(
    app: &'static App,
    head: Head<'_>,
    work: Work,
    duration: Duration,
) -> Option<Offloaded> {
    let handed_off = Instant::now();
    let (method, target, version) = (head.method.to_owned(), head.target.to_owned(), head.version);
    let (done, ran) = tokio::sync::oneshot::channel();
    tokio::task::spawn_blocking(move || {
        let waited = Waited {
            waited: handed_off.elapsed(),
            client_gone: done.is_closed(),
        };
        let who = Identity::current();
        let head = Head {
            method: &method,
            target: &target,
            version,
        };
        let offloaded = match app.queue_deadline.verdict(waited) {
            Verdict::Run => Offloaded::Ran {
                tid: who.tid,
                queried: match work {
                    Work::Sleep => {
                        thread::sleep(duration);
                        None
                    }
                    Work::Compute => {
                        work::compute(duration);
                        None
                    }
                    Work::Query => Some(app.database.query_blocking(duration)),
                },
            },
            Verdict::Shed => {
                log::gather(|log| log.shed(who, head, waited.waited));
                log::flush();
                Offloaded::Shed
            }
            Verdict::Gone => {
                log::gather(|log| log.gone(who, head, waited.waited));
                log::flush();
                return;
            }
        };
        let _ = done.send(offloaded);
    });
    ran.await.ok()
}

/// One worker's runtime. `new_current_thread` is what makes this server single-threaded: every
/// task of the worker (the accept loop, each connection, each request) runs on the one thread
/// that calls `block_on`, taking turns at each `.await`. The blocking pool, up to
/// `--blocking-threads` threads, runs only what is handed to it (`/offload`). Whenever the thread
/// is about to wait for something to happen, its log goes out.
fn runtime(blocking_threads: usize) -> std::io::Result<Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(blocking_threads)
        .on_thread_park(log::flush)
        .build()
}

mod app;
mod db;
mod http;
mod listen;
mod server;
mod shutdown;
mod upstream;
mod watchdog;

use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{value_parser, Parser};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use shared::os::cli::{self, Arguments, ServerFlags};
use shared::os::{log, work};
use shared::{Answer, AsyncWait, Head, Identity, Verdict, Waited, Work};
use tokio::runtime::Runtime;

use crate::app::App;

// Both servers allocate with jemalloc, so that neither differs from the other in memory or
// speed by its allocator. Built with `--features system-allocator`, this one uses the C
// library's instead: the benchmark runner measures async-server so once, to show what the
// choice is worth.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Async HTTP server on one thread: hyper on a tokio current_thread runtime, like
/// `uvicorn --workers 1`.
#[derive(Parser, Debug)]
#[command(name = "async-server", version)]
struct Cli {
    #[command(flatten)]
    common: ServerFlags,
    /// Port to bind; 0 picks a free one
    #[arg(short, long, value_name = "N", default_value_t = 8001)]
    port: u16,
    /// How many single-threaded runtimes serve the port, each on a thread of its own, like
    /// `uvicorn --workers N` (whose workers are processes)
    #[arg(long, value_name = "N", default_value = "1", value_parser = cli::count)]
    workers: usize,
    /// The most threads tokio's blocking pool may run at once (/offload), per worker
    #[arg(long, value_name = "N", default_value_t = 512, value_parser = value_parser!(u32).range(1..=100_000))]
    blocking_threads: u32,
    /// Report when a runtime thread is kept from its event loop longer than this; 0 turns it off
    #[arg(long, value_name = "MS", default_value_t = 100, value_parser = value_parser!(u64).range(0..=3_600_000))]
    warn_blocked: u64,
    /// The most database connections held open at once, per worker
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = value_parser!(u32).range(1..=100_000))]
    db_pool: u32,
}

impl Arguments for Cli {
    fn check(&self) -> Result<(), String> {
        self.common.check()?;
        self.common.check_database::<tokio_postgres::Config>()
    }
}

fn main() -> ExitCode {
    match cli::parse() {
        Ok(args) => cli::finish(start(args)),
        Err(exit) => exit,
    }
}

/// Binds the port (a socket per worker), builds the app and a runtime per worker, hears the
/// signals, and serves on this thread (the first worker) until a shutdown has let the requests
/// in progress finish.
fn start(args: Cli) -> anyhow::Result<()> {
    let addr = args.common.addr(args.port);
    let listeners =
        listen::bind(addr, args.workers).with_context(|| format!("cannot listen on {addr}"))?;
    let app = App::new(&args)?;
    let mut runtimes = (0..args.workers)
        .map(|_| runtime(app.blocking_threads))
        .collect::<std::io::Result<Vec<_>>>()?;
    let first = runtimes.remove(0);
    first.block_on(async {
        let shutdown = shutdown::signalled(&app.shutdown).context("cannot handle signals")?;
        server::run(listeners, runtimes, app, shutdown).await
    })?;
    log::flush();
    Ok(())
}
