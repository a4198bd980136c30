//! `async-server`: the async half of the experiment, `uvicorn --workers 1`.
//!
//! One thread runs everything: a tokio `current_thread` runtime accepts connections, reads
//! requests and runs [`handle`]. `/sleep` awaits `tokio::time::sleep`, which hands the thread
//! back to the runtime until the timer fires, so other requests run in the meantime. `/block`
//! shows the mistake (a blocking sleep in an async handler) and `/offload` the fix (the blocking
//! sleep on tokio's blocking pool, awaited). `--workers N` runs N such runtimes, each on a thread
//! of its own with a socket of its own on the same port, like `uvicorn --workers N`.

// Less memory per waiting connection than the system allocator, at the same speed: the
// benchmark runner's fan-out rows (docs/performance.md) show what it holds.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod http;
mod listen;
mod server;
mod shutdown;
mod watchdog;

use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{value_parser, Parser};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use shared::cli::{self, Arguments, Common};
use shared::{log, work, Flavor, Identity, Router, Shutdown, Wait, Work};
use tokio::sync::Semaphore;

use crate::server::Server;
use crate::watchdog::Watchdog;

/// Async HTTP server on one thread: hyper on a tokio current_thread runtime, like
/// `uvicorn --workers 1`.
#[derive(Parser, Debug)]
#[command(name = "async-server", version)]
struct Cli {
    #[command(flatten)]
    common: Common,
    /// Port to bind; 0 picks a free one
    #[arg(short, long, value_name = "N", default_value_t = 8001)]
    port: u16,
    /// How many single-threaded runtimes serve the port, each on a thread of its own, like
    /// `uvicorn --workers N` (whose workers are processes)
    #[arg(long, value_name = "N", default_value = "1", value_parser = cli::count)]
    workers: usize,
    /// The most connections served at once; past it, a new one is answered 503 and closed
    #[arg(long, value_name = "N", default_value_t = 20_000, value_parser = value_parser!(u32).range(1..))]
    max_connections: u32,
    /// The most threads tokio's blocking pool may run at once (/offload), per worker
    #[arg(long, value_name = "N", default_value_t = 512, value_parser = value_parser!(u32).range(1..=100_000))]
    blocking_threads: u32,
    /// Report when a runtime thread is kept from its event loop longer than this; 0 turns it off
    #[arg(long, value_name = "MS", default_value_t = 100, value_parser = value_parser!(u64).range(0..=3_600_000))]
    warn_blocked: u64,
}

impl Arguments for Cli {
    fn check(&self) -> Result<(), String> {
        self.common.check()
    }
}

fn main() -> ExitCode {
    cli::finish(run(cli::parse()))
}

fn run(args: Cli) -> anyhow::Result<()> {
    let limits = args.common.limits();
    // Every worker serves with it until the process ends.
    let server: &'static Server = Box::leak(Box::new(Server {
        router: Router {
            flavor: Flavor::Async,
            limits,
        },
        shutdown: Shutdown::new(limits.max_sleep),
        header_timeout: args.common.header_timeout,
        connections: Semaphore::new(args.max_connections as usize),
        blocking_threads: args.blocking_threads as usize,
        watchdog: (args.warn_blocked > 0)
            .then(|| Watchdog::new(Duration::from_millis(args.warn_blocked))),
    }));
    if let Some(watchdog) = &server.watchdog {
        watchdog.start().context("cannot start the watchdog")?;
    }
    let addr = args.common.addr(args.port);
    let mut listeners = listen::bind(addr, args.workers)
        .with_context(|| format!("cannot listen on {addr}"))?
        .into_iter();
    let first = listeners.next().expect("at least one worker");
    let addr = first.local_addr()?;
    let (stop, stopped) = shutdown::channel();

    // Workers beyond the first each run a runtime on a thread of their own.
    let (finished, mut all_finished) = tokio::sync::mpsc::channel::<()>(1);
    for listener in listeners {
        let (stopped, finished) = (stopped.clone(), finished.clone());
        let runtime = server::runtime(server)?;
        thread::spawn(move || {
            runtime.block_on(server::run(server, listener, stopped));
            log::write_out();
            drop(finished);
        });
    }
    drop(finished);

    // The first worker is this thread, which also hears the signals.
    server::runtime(server)?.block_on(async {
        shutdown::on_signal(&server.shutdown, stop).context("cannot handle signals")?;
        println!("async-server listening on http://{addr}");
        server::run(server, first, stopped).await;
        all_finished.recv().await;
        anyhow::Ok(())
    })?;
    log::write_out();
    Ok(())
}

/// One request: log its start, plan it, wait as the plan says, log its end, answer.
async fn handle(request: &Request<Incoming>, server: &Server) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let me = Identity::current();
    let head = http::head(request);
    log::lines(|log| log.start(me, head));
    let headers = http::headers(request);
    let mut plan = server
        .router
        .plan(head, headers, me, server.shutdown.grace_left());
    match plan.wait {
        None => {}
        Some(Wait::Sleep(duration)) => {
            tokio::time::sleep(duration).await; // yields the thread: other requests run meanwhile
        }
        Some(Wait::Compute(cpu)) => {
            // Computing never awaits: nothing else runs on this thread until it is done.
            log::write_out();
            work::compute(cpu);
        }
        Some(Wait::Block(duration)) => {
            // The mistake, on purpose: nothing else runs on this thread until the sleep ends.
            log::write_out();
            thread::sleep(duration);
        }
        Some(Wait::Offload(what, duration)) => {
            // The fix: the blocking work runs on tokio's blocking pool, and this task awaits it.
            let work = tokio::task::spawn_blocking(move || {
                match what {
                    Work::Sleep => thread::sleep(duration),
                    Work::Compute => {
                        work::compute(duration);
                    }
                }
                Identity::current().tid
            });
            plan.answer.work_tid = work.await.ok();
        }
    }
    log::lines(|log| log.done(me, head, &plan.answer, started.elapsed()));
    http::response(request, plan.answer, me)
}
