//! Serving from handler threads: each takes the next request tiny_http has read, runs
//! [`crate::handle`] on it, and goes back for the next, until a shutdown has drained the queue.

use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use shared::os::log;
use shared::{Answer, Identity, Verdict};
use tiny_http::Request;

use crate::app::App;
use crate::http::{self, Responder};
use crate::thread_limits;

/// The stack each extra handler thread reserves: a handler needs little, and with thousands of
/// threads the default of 2 MiB each would reserve gigabytes of address space.
pub const HANDLER_STACK: usize = 256 * 1024;

/// How long the queue must stay empty, once shutting down, before a thread stops: requests on
/// connections accepted earlier may still be arriving.
const QUIET: Duration = Duration::from_millis(100);

/// Starts the handler threads, says where it listens, and serves until a shutdown (begun by
/// whoever calls [`App::shutdown`]'s `signalled`) has drained the queue.
pub fn run(app: &'static App, threads: usize) -> anyhow::Result<()> {
    app.tiny_http.start_helpers()?;
    // With --threads 1 (the default) this thread is the only one that runs handlers. The others
    // are all started before the server says it listens, and wait for it to: the system may
    // refuse one, and then the server ends before serving anything.
    // Handler threads are named: tiny_http's own threads are told apart by having no name.
    let listening: &'static Barrier = Box::leak(Box::new(Barrier::new(threads)));
    let spawn = move |number| {
        let handler = thread::Builder::new()
            .name(format!("handler-{number}"))
            .stack_size(HANDLER_STACK);
        let spawned = handler.spawn(move || {
            listening.wait();
            serve(app);
        });
        spawned.map_err(|error| thread_limits::no_more_threads(number, threads, error))
    };
    let handlers = (1..threads).map(spawn).collect::<Result<Vec<_>, _>>()?;
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

/// Waits for the next request; `None` means it is time to stop. While serving, the wait has no
/// timer, and ends only with a request (or a wake-up, at a shutdown). Once shutting down, it ends
/// when the queue has stayed empty for a moment or the grace period is spent.
fn next_request(app: &App, responder: &mut Responder) -> Option<Request> {
    loop {
        match app.shutdown.grace_left() {
            None => {
                if let Some(request) = app.tiny_http.next(None, responder) {
                    return Some(request);
                }
            }
            Some(grace) if grace.is_zero() => return None,
            Some(grace) => return app.tiny_http.next(Some(QUIET.min(grace)), responder),
        }
    }
}
