//! `sync-server`: the blocking half of the experiment, Django's `runserver --nothreading`.
//!
//! One thread runs every handler, one request at a time, and `/sleep` blocks that thread with
//! `std::thread::sleep`. tiny_http accepts connections and reads requests on helper threads of
//! its own and queues them; while a handler sleeps, new requests wait in that queue.
//! `--threads N` runs N such handler threads on the one queue, like Django's threaded
//! `runserver`: then N requests can sleep at once. `/compute` holds its thread with CPU work
//! instead of a sleep: more threads than cores do not make more of that at once.

mod connections;
mod http;
mod limits;
mod listen;
mod server;
mod shutdown;
mod slow;
mod sockets;
mod supervisor;

use std::process::ExitCode;
use std::sync::Barrier;
use std::thread;
use std::time::Instant;

use anyhow::Context;
use clap::{value_parser, Parser};
use shared::cli::{self, Arguments, Common};
use shared::{log, work, Flavor, Identity, Router, Shutdown, Wait};
use tiny_http::Request;

use crate::connections::Connections;
use crate::http::Responder;
use crate::server::Server;
use crate::slow::SlowReaders;
use crate::supervisor::Supervisor;

/// The stack each extra handler thread reserves: a handler needs little, and with thousands of
/// threads the default of 2 MiB each would reserve gigabytes of address space.
const HANDLER_STACK: usize = 256 * 1024;

/// Blocking, single-threaded HTTP server: one request at a time, like `runserver --nothreading`.
#[derive(Parser, Debug)]
#[command(name = "sync-server", version)]
struct Cli {
    #[command(flatten)]
    common: Common,
    /// Port to bind; 0 picks a free one
    #[arg(short, long, value_name = "N", default_value_t = 8000)]
    port: u16,
    /// How many threads run handlers; 1 is `runserver --nothreading`, more is threaded `runserver`
    #[arg(long, value_name = "N", default_value = "1", value_parser = cli::threads)]
    threads: usize,
    /// The most connections served at once; past it, a new one is answered 503 and closed
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = value_parser!(u32).range(1..))]
    max_connections: u32,
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
    let addr = args.common.addr(args.port);
    let listener = listen::bind(addr, args.common.header_timeout)
        .with_context(|| format!("cannot listen on {addr}"))?;
    let supervisor = Supervisor::new(listener, args.common.header_timeout, limits.max_sleep)
        .context("cannot start tiny_http")?;
    // Every handler thread and the signal handler serve with it until the process ends.
    let server: &'static Server = Box::leak(Box::new(Server {
        router: Router {
            flavor: Flavor::Sync,
            limits,
        },
        shutdown: Shutdown::new(limits.max_sleep),
        supervisor,
        slow: SlowReaders::new(args.common.header_timeout),
        connections: Connections::new(args.max_connections as usize),
    }));
    shutdown::on_signal(server, args.threads).context("cannot handle signals")?;

    // With --threads 1 (the default) this thread is the only one that runs handlers. The others
    // are all started before the server says it listens, and wait for it to: the system may
    // refuse one, and then the server ends before serving anything.
    // Handler threads are named: tiny_http's own threads are told apart by having no name.
    let listening: &'static Barrier = Box::leak(Box::new(Barrier::new(args.threads)));
    let spawn = move |number| {
        let handler = thread::Builder::new()
            .name(format!("handler-{number}"))
            .stack_size(HANDLER_STACK);
        let serve = move || {
            listening.wait();
            server::run(server);
        };
        let spawned = handler.spawn(serve);
        spawned.map_err(|error| limits::no_more_threads(number, args.threads, error))
    };
    let handlers = (1..args.threads)
        .map(spawn)
        .collect::<Result<Vec<_>, _>>()?;
    thread::Builder::new()
        .name("slow-readers".to_owned())
        .spawn(|| server.slow.run())
        .context("cannot start a thread")?;
    thread::Builder::new()
        .name("refused-connections".to_owned())
        .spawn(|| server.connections.run())
        .context("cannot start a thread")?;
    println!(
        "sync-server listening on http://{}",
        server.supervisor.addr()
    );
    listening.wait();
    server::run(server);
    for handler in handlers {
        let _ = handler.join();
    }
    Ok(())
}

/// One request: log its start, plan it, wait as the plan says, log its end, answer.
fn handle(request: Request, server: &Server, responder: &mut Responder) {
    let started = Instant::now();
    let me = Identity::current();
    let head = http::head(&request);
    log::lines(|log| log.start(me, head));
    let headers = http::headers(&request);
    let plan = server
        .router
        .plan(head, headers, me, server.shutdown.grace_left());
    match plan.wait {
        None => {}
        Some(Wait::Sleep(duration)) => {
            log::write_out();
            thread::sleep(duration); // blocks this handler thread: with one, everyone waits
        }
        Some(Wait::Compute(cpu)) => {
            log::write_out();
            work::compute(cpu); // so does computing, on any server
        }
        Some(wait @ (Wait::Block(_) | Wait::Offload(..))) => {
            unreachable!("{wait:?} is a route of the async flavor only")
        }
    }
    log::lines(|log| log.done(me, head, &plan.answer, started.elapsed()));
    responder.respond(request, &plan.answer, me);
}
