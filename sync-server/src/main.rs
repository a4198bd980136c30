//! `sync-server`: the blocking half of the experiment, Django's `runserver --nothreading`.
//!
//! One thread runs every handler, one request at a time, and `/sleep` blocks that thread with
//! `std::thread::sleep`. tiny_http accepts connections and reads requests on helper threads of
//! its own and queues them; while a handler sleeps, new requests wait in that queue.
//! `--threads N` runs N such handler threads on the one queue, like Django's threaded
//! `runserver`: then N requests can sleep at once. `/compute` holds its thread with CPU work
//! instead of a sleep: more threads than cores do not make more of that at once.
//!
//! Read [`handle`] first, beside async-server's: only the wait differs. Then [`start`], what
//! `main` does: bind, build the [`app`], hear the signals, and hand the app to [`server::run`],
//! which starts the handler threads and runs each one's loop. [`tiny_http_gaps`] is what
//! tiny_http lacks, filled in from outside it, and can be skipped on a first reading.

/// One request: log its start, plan it, wait as the plan says, log its end, answer.
fn handle(request: Request, app: &App, responder: &mut Responder) {
    let started = Instant::now();
    let who = Identity::current();
    let head = http::head(&request);
    log::gather(|log| log.start(who, head));
    let headers = http::headers(&request);
    let mut plan = app
        .router
        .plan(head, headers, who, app.shutdown.grace_left());
    if let Some(wait) = plan.wait {
        log::flush(); // the START line is out before the wait begins
        match wait {
            // The thread is parked until the time is up. With one handler thread, every other
            // request waits in tiny_http's queue meanwhile: this is the seed's result.
            SyncWait::Sleep(duration) => thread::sleep(duration),
            // Holds the thread just as the sleep does, and a core besides.
            SyncWait::Compute(cpu) => {
                work::compute(cpu);
            }
            // Parked again, now in a socket read until the database answers.
            SyncWait::Query(seconds) => plan.answer.after_query(app.database.query(seconds)),
            // Parked in each call's socket read in turn: the calls' waits add up.
            SyncWait::Fetch(calls) => plan.answer.after_fetch(app.upstream.fetch(calls)),
            // A thread per call, all parked at once, and this one parked joining them.
            SyncWait::FetchOnThreads(calls) => {
                plan.answer
                    .after_fetch(app.upstream.fetch_on_threads(calls));
            }
        }
    }
    log::gather(|log| log.done(who, head, &plan.answer, started.elapsed()));
    responder.respond(request, &plan.answer, who);
}

mod app;
mod db;
mod http;
mod server;
mod shutdown;
mod thread_limits;
mod tiny_http_gaps;
mod upstream;

use std::process::ExitCode;
use std::thread;
use std::time::Instant;

use anyhow::Context;
use clap::{value_parser, Parser};
use shared::os::cli::{self, Arguments, ServerFlags};
use shared::os::{log, work};
use shared::{Identity, SyncWait};
use tiny_http::Request;

use crate::app::App;
use crate::http::Responder;
use crate::tiny_http_gaps::TinyHttp;

// Both servers allocate with jemalloc, so that neither differs from the other in memory or
// speed by its allocator. Built with `--features system-allocator`, this one uses the C
// library's instead: the benchmark runner measures async-server so once, to show what the
// choice is worth.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Blocking, single-threaded HTTP server: one request at a time, like `runserver --nothreading`.
#[derive(Parser, Debug)]
#[command(name = "sync-server", version)]
struct Cli {
    #[command(flatten)]
    common: ServerFlags,
    /// Port to bind; 0 picks a free one
    #[arg(short, long, value_name = "N", default_value_t = 8000)]
    port: u16,
    /// How many threads run handlers; 1 is `runserver --nothreading`, more is threaded `runserver`
    #[arg(long, value_name = "N", default_value = "1", value_parser = cli::threads)]
    threads: usize,
    /// The most database connections held open at once [default: --threads, one per handler
    /// thread, as Django keeps one per thread]
    #[arg(long, value_name = "N", value_parser = value_parser!(u32).range(1..=100_000))]
    db_pool: Option<u32>,
}

impl Arguments for Cli {
    fn check(&self) -> Result<(), String> {
        self.common.check()?;
        self.common.check_database::<postgres::Config>()
    }
}

fn main() -> ExitCode {
    match cli::parse() {
        Ok(args) => cli::finish(start(args)),
        Err(exit) => exit,
    }
}

/// Binds the port, builds the app, hears the signals, and serves until a shutdown has drained
/// the queue.
fn start(args: Cli) -> anyhow::Result<()> {
    let limits = args.common.limits();
    let tiny_http = TinyHttp::start(
        args.common.addr(args.port),
        args.common.header_timeout,
        limits.max_sleep,
        args.common.max_connections as usize,
    )?;
    let app = App::new(&args, tiny_http)?;
    shutdown::on_signal(app).context("cannot handle signals")?;
    server::run(app, args.threads)
}
