//! `sync-server`: the blocking half of the experiment, Django's `runserver --nothreading`.
//!
//! One thread runs every handler, one request at a time, and `/sleep` blocks that thread with
//! `std::thread::sleep`. tiny_http accepts connections and reads requests on helper threads of
//! its own and queues them; while a handler sleeps, new requests wait in that queue.
//! `--threads N` runs N such handler threads on the one queue, like Django's threaded
//! `runserver`: then N requests can sleep at once.

mod http;
mod respond;
mod shutdown;

use std::io;
use std::net::TcpListener;
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use clap::Parser;
use shared::cli::{self, Common, WithCommon};
use shared::{Flavor, Identity, LogBuffer, Router};
use tiny_http::Request;

use crate::http::Http;
use crate::respond::Responder;
use crate::shutdown::Shutdown;

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
    #[arg(long, value_name = "N", default_value = "1", value_parser = cli::count)]
    threads: usize,
}

impl WithCommon for Cli {
    fn common(&self) -> &Common {
        &self.common
    }
}

fn main() {
    let args: Cli = cli::parse();
    let addr = args.common.addr(args.port);
    let listener = TcpListener::bind(addr)
        .unwrap_or_else(|error| cli::fail(format_args!("cannot listen on {addr}: {error}")));
    let router = Router {
        flavor: Flavor::Sync,
        limits: args.common.limits(),
    };
    let http = Http::new(
        listener,
        args.common.header_timeout,
        router.limits.max_sleep,
    )
    .map(Arc::new)
    .unwrap_or_else(|error| cli::fail(format_args!("cannot start tiny_http: {error}")));
    let shutdown = Shutdown::on_signal(Arc::clone(&http), router.limits.max_sleep, args.threads)
        .unwrap_or_else(|error| cli::fail(format_args!("cannot handle signals: {error}")));
    println!("sync-server listening on http://{}", http.addr());

    // With --threads 1 (the default) this thread is the only one that runs handlers.
    // Handler threads are named: tiny_http's own threads are told apart by having no name.
    thread::scope(|scope| {
        for number in 1..args.threads {
            thread::Builder::new()
                .name(format!("handler-{number}"))
                .spawn_scoped(scope, || serve(&http, &router, &shutdown))
                .unwrap_or_else(|error| cli::fail(format_args!("cannot start a thread: {error}")));
        }
        serve(&http, &router, &shutdown);
    });
}

/// Answers requests one at a time until a shutdown has drained the queue.
fn serve(http: &Http, router: &Router, shutdown: &Shutdown) {
    let mut log = LogBuffer::new();
    let mut responder = Responder::new();
    loop {
        let request = match http.try_recv() {
            Some(request) => request,
            None => {
                write_out(&mut log); // the queue is empty: the thread is about to wait
                match shutdown.wait_for_request(http) {
                    Some(request) => request,
                    None => break,
                }
            }
        };
        handle(request, router, shutdown, &mut log, &mut responder);
    }
    write_out(&mut log);
}

fn handle(
    request: Request,
    router: &Router,
    shutdown: &Shutdown,
    log: &mut LogBuffer,
    responder: &mut Responder,
) {
    let started = Instant::now();
    let me = Identity::current();
    let method = request.method().as_str();
    let target = request.url();
    log.start(me, method, target);

    let version = request.http_version();
    let version = (version.0, version.1);
    let headers = request.headers().iter();
    let headers = headers.map(|header| (header.field.as_str().as_str(), header.value.as_bytes()));
    let mut plan = router.plan_request(method, target, version, headers);
    if let Some(grace) = shutdown.grace_left() {
        plan = plan.within(grace);
    }
    if let Some(wait) = plan.wait {
        write_out(log);
        thread::sleep(wait.duration()); // blocks this handler thread: with one, everyone waits
    }

    log.done(me, method, target, &plan.answer, started.elapsed());
    if log.is_full() {
        write_out(log);
    }
    // A client that hung up before its answer is no error of ours.
    let _ = responder.respond(request, &plan.answer, me);
}

fn write_out(log: &mut LogBuffer) {
    // A closed stdout must not stop the server.
    let _ = log.write_to(&mut io::stdout().lock());
}
