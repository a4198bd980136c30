//! Starting the server and serving from handler threads: each takes the next request tiny_http
//! has read, runs [`crate::handle`] on it, and goes back for the next, until a shutdown has
//! drained the queue.

use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use anyhow::Context;
use shared::os::log;
use shared::{Answer, Identity, QueueDeadline, Router, Shutdown, SyncWait, Verdict};
use tiny_http::Request;

use crate::db::Database;
use crate::http::{self, Responder};
use crate::tiny_http_gaps::TinyHttp;
use crate::upstream::Upstream;
use crate::{shutdown, thread_limits, Cli};

/// What every handler thread serves with.
pub struct App {
    pub router: Router<SyncWait>,
    pub shutdown: Shutdown,
    /// Where requests come from and answers go: tiny_http, with what it lacks filled in.
    pub tiny_http: TinyHttp,
    /// The pool of database connections `/query` takes one from.
    pub database: Database,
    /// The client `/fetch` calls the upstream with.
    pub upstream: Upstream,
    /// How long a request may wait in the queue for a handler thread and still be run.
    pub queue_deadline: QueueDeadline,
}

/// The stack each extra handler thread reserves: a handler needs little, and with thousands of
/// threads the default of 2 MiB each would reserve gigabytes of address space.
pub const HANDLER_STACK: usize = 256 * 1024;

/// How long the queue must stay empty, once shutting down, before a thread stops: requests on
/// connections accepted earlier may still be arriving.
const QUIET: Duration = Duration::from_millis(100);

/// How often an idle handler thread looks whether a shutdown has begun. The signal handler wakes
/// one waiting thread per handler thread, but a thread busy with a request may take a wake-up
/// meant for another: so none waits for one longer than this.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// Binds the port, starts the handler threads, says where it listens, and serves until a
/// shutdown has drained the queue.
pub fn run(args: Cli) -> anyhow::Result<()> {
    let limits = args.common.limits();
    let addr = args.common.addr(args.port);
    let tiny_http = TinyHttp::start(
        addr,
        args.common.header_timeout,
        limits.max_sleep,
        args.common.max_connections as usize,
    )?;
    let database = match &args.common.database {
        Some(url) => {
            let size = args.db_pool.unwrap_or(args.threads as u32);
            Database::new(url, size, args.common.db_wait).context("cannot use --database")?
        }
        None => Database::none(),
    };
    let upstream = Upstream::new(
        args.common.upstream.as_deref(),
        args.common.upstream_connections,
        args.common.header_timeout,
        limits.max_sleep,
    );
    // Every handler thread and the signal handler serve with it until the process ends.
    let app: &'static App = Box::leak(Box::new(App {
        router: Router::new(limits).with(args.common.backends()),
        shutdown: Shutdown::new(limits.max_sleep),
        tiny_http,
        database,
        upstream,
        queue_deadline: QueueDeadline(args.common.queue_deadline()),
    }));
    app.tiny_http.start_helpers()?;
    shutdown::on_signal(app, args.threads).context("cannot handle signals")?;

    // With --threads 1 (the default) this thread is the only one that runs handlers. The others
    // are all started before the server says it listens, and wait for it to: the system may
    // refuse one, and then the server ends before serving anything.
    // Handler threads are named: tiny_http's own threads are told apart by having no name.
    let listening: &'static Barrier = Box::leak(Box::new(Barrier::new(args.threads)));
    let spawn = move |number| {
        let handler = thread::Builder::new()
            .name(format!("handler-{number}"))
            .stack_size(HANDLER_STACK);
        let spawned = handler.spawn(move || {
            listening.wait();
            serve(app);
        });
        spawned.map_err(|error| thread_limits::no_more_threads(number, args.threads, error))
    };
    let handlers = (1..args.threads)
        .map(spawn)
        .collect::<Result<Vec<_>, _>>()?;
    println!("sync-server listening on http://{}", app.tiny_http.addr());
    listening.wait();
    serve(app);
    for handler in handlers {
        let _ = handler.join();
    }
    app.database.close();
    app.upstream.close();
    Ok(())
}

/// Answers requests one at a time on this thread until a shutdown has drained the queue.
fn serve(app: &'static App) {
    let mut responder = Responder::new(&app.tiny_http);
    loop {
        let request = match app.tiny_http.try_next(&mut responder) {
            // It was waiting in the queue: for how long, and is its client still there?
            Some(request) => match leave_queue(app, request, &mut responder) {
                Some(request) => request,
                None => continue,
            },
            None => {
                // The queue is empty: this thread is about to wait for work, so its log goes out.
                log::flush();
                match next_request(app, &mut responder) {
                    Some(request) => request,
                    None => break,
                }
            }
        };
        crate::handle(request, app, &mut responder);
    }
    log::flush();
}

/// A request that waited in the queue, if it is to be run. One that waited past
/// `--queue-deadline` is answered `503` unrun, and one whose client has hung up is dropped; each
/// gets one log line. (A request a waiting handler thread took at once is not looked at: it
/// waited for nothing.)
fn leave_queue(app: &App, request: Request, responder: &mut Responder) -> Option<Request> {
    let Some(waited) = app.tiny_http.waited(&request) else {
        return Some(request); // it cannot have waited long, or its socket is not found
    };
    let who = Identity::current();
    match app.queue_deadline.verdict(waited) {
        Verdict::Run => return Some(request),
        Verdict::Shed => {
            log::gather(|log| log.shed(who, http::head(&request), waited.waited));
            responder.respond(request, &Answer::shed(), who);
        }
        Verdict::Gone => {
            log::gather(|log| log.gone(who, http::head(&request), waited.waited));
            app.tiny_http.drop_unanswered(request);
        }
    }
    None
}

/// Waits for the next request; `None` means it is time to stop. While serving, the wait ends
/// only with a request. Once shutting down, it ends when the queue has stayed empty for a moment
/// or the grace period is spent.
fn next_request(app: &App, responder: &mut Responder) -> Option<Request> {
    loop {
        match app.shutdown.grace_left() {
            None => match app.tiny_http.next_within(IDLE_CHECK, responder) {
                Some(request) => return Some(request),
                None => continue,
            },
            Some(grace) if grace.is_zero() => return None,
            Some(grace) => return app.tiny_http.next_within(QUIET.min(grace), responder),
        }
    }
}
