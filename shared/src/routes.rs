//! The routes: what each path means, and the wait it asks of the server that has it.
//!
//! The two servers differ in the waits they can do. A thread per request can sleep or compute
//! on its own thread; an event loop can also block its one thread by mistake (`/block`) or hand
//! the blocking to a pool and await it (`/offload`). Each server's wait type ([`SyncWait`],
//! [`AsyncWait`]) holds only the waits it can do, so its handler matches on exactly those: a
//! route whose wait a server cannot do is not one of its routes (`404`).

use std::borrow::Cow;
use std::fmt::Debug;
use std::time::Duration;

use crate::answer::{Answer, ALLOWED_METHODS, HTML};
use crate::query::{requested_count, requested_seconds, requested_via, requested_work};
use crate::Identity;

/// How long a request may wait: the server's `--sleep` and `--max-sleep`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// The wait of a `/sleep` that names no duration.
    pub default_sleep: Duration,
    /// The longest wait a request may ask for.
    pub max_sleep: Duration,
}

/// What a server has to talk to besides its clients: a database (`--database`), another HTTP
/// service (`--upstream`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backends {
    pub database: bool,
    pub upstream: bool,
}

/// The calls one `/fetch` makes to the upstream: `count` of them, each asking it to wait
/// `seconds` (its `/sleep?seconds=S`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Calls {
    pub count: u32,
    pub seconds: Duration,
}

impl Calls {
    /// The most an upstream's answer to one call may hold: its `/sleep` answers five bytes.
    pub const MAX_ANSWER: usize = 64 * 1024;

    /// What each call asks of the upstream at `base` (`http://HOST:PORT`): the same for every
    /// call of a `/fetch`, so a server works it out once per request.
    pub fn url(&self, base: &str) -> String {
        format!("{base}/sleep?seconds={}", self.seconds.as_secs_f64())
    }
}

/// What a waiting request asks for besides `seconds`: `work=` (`/offload`), and `count=` and
/// `via=` (`/fetch`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Asked {
    pub work: Work,
    pub count: u32,
    pub via: Via,
}

/// How a sync `/fetch` makes its calls (`via=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// On the handler thread, one after another (no `via`).
    HandlerThread,
    /// One scoped thread per call, all at once, joined (`via=threads`).
    Threads,
}

/// Which of the two servers a page or a `404` speaks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerKind {
    /// `sync-server`: blocking handler threads.
    Sync,
    /// `async-server`: one event loop per thread.
    Async,
}

/// What a server does with one request: wait (if `wait` says so, in one of the ways `W` has),
/// then send `answer`.
#[derive(Debug, PartialEq)]
pub struct Plan<W> {
    pub wait: Option<W>,
    pub answer: Answer,
}

impl<W> Plan<W> {
    /// A plan that answers without waiting.
    pub(crate) fn answer_at_once(answer: Answer) -> Plan<W> {
        Plan { wait: None, answer }
    }
}

/// The waits one server can do: the core plans only those for it.
pub trait Waits: Copy + Debug + PartialEq + Sized {
    /// The server these are the waits of.
    const SERVER: ServerKind;

    /// How this server waits for a waiting `route`, given its `seconds` and what else the
    /// request asks; `None` where this server has no such route.
    fn for_route(route: WaitingRoute) -> Option<fn(Duration, Asked) -> Self>;

    /// How long the wait lasts (or how much CPU time it uses), at least.
    fn duration(self) -> Duration;
}

/// A thread-per-request server's waits (`sync-server`): each holds its handler thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncWait {
    /// `/sleep`: `std::thread::sleep`, the thread parked until the time is up.
    Sleep(Duration),
    /// `/compute`: CPU-bound work until the thread has used this much CPU time.
    Compute(Duration),
    /// `/query`: `SELECT pg_sleep(S)` with a blocking client, the thread parked in a socket
    /// read until the database answers.
    Query(Duration),
    /// `/fetch`: the upstream called with a blocking client, one call after another, the
    /// thread parked in each call's socket read in turn.
    Fetch(Calls),
    /// `/fetch?via=threads`: one scoped thread per call, all parked at once, the handler thread
    /// parked in joining them: waiting on several things at once costs a thread each.
    FetchOnThreads(Calls),
}

/// An event loop's waits (`async-server`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsyncWait {
    /// `/sleep`: `tokio::time::sleep(..).await`, the task set aside until its timer fires.
    Sleep(Duration),
    /// `/compute`: CPU-bound work on the runtime's own thread, which holds it exactly as a
    /// blocking sleep does.
    Compute(Duration),
    /// `/block`: a blocking sleep on the runtime's own thread: the mistake of calling
    /// `time.sleep` in an `async def` view.
    Block(Duration),
    /// `/query`: `SELECT pg_sleep(S)` with an async client from a bounded pool, awaited: the
    /// task set aside until the database's answer arrives on its socket.
    Query(Duration),
    /// `/offload`: blocking work on a thread of the blocking pool, awaited: the fix, like
    /// `sync_to_async` or `asyncio.to_thread`.
    Offload(Work, Duration),
    /// `/fetch`: every call to the upstream at once with an async client, awaited together:
    /// one task waits on several sockets, and the thread is free meanwhile.
    Fetch(Calls),
}

impl AsyncWait {
    /// Whether the wait keeps the runtime's thread: it does not hand it back at an `.await`.
    pub fn holds_the_thread(&self) -> bool {
        matches!(self, AsyncWait::Compute(_) | AsyncWait::Block(_))
    }
}

/// The work `/offload` hands to the blocking pool (`work=` in its query).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// A blocking sleep (`work=sleep`, the default).
    Sleep,
    /// The `/compute` work (`work=compute`).
    Compute,
    /// The `/query` statement with a blocking client (`work=query`): what Django's
    /// `sync_to_async` does with the ORM.
    Query,
}

/// A route that waits, before a server says how (the paths of [`Waits::for_route`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitingRoute {
    Sleep,
    Compute,
    Block,
    Offload,
    Query,
    Fetch,
}

impl Waits for SyncWait {
    const SERVER: ServerKind = ServerKind::Sync;

    fn for_route(route: WaitingRoute) -> Option<fn(Duration, Asked) -> SyncWait> {
        match route {
            WaitingRoute::Sleep => Some(|seconds, _| SyncWait::Sleep(seconds)),
            WaitingRoute::Compute => Some(|seconds, _| SyncWait::Compute(seconds)),
            WaitingRoute::Query => Some(|seconds, _| SyncWait::Query(seconds)),
            WaitingRoute::Fetch => Some(|seconds, asked| {
                let calls = Calls {
                    count: asked.count,
                    seconds,
                };
                match asked.via {
                    Via::HandlerThread => SyncWait::Fetch(calls),
                    Via::Threads => SyncWait::FetchOnThreads(calls),
                }
            }),
            // A sync server has no event loop to block, nor a thread to spare for offloading.
            WaitingRoute::Block | WaitingRoute::Offload => None,
        }
    }

    fn duration(self) -> Duration {
        match self {
            SyncWait::Sleep(duration) | SyncWait::Compute(duration) | SyncWait::Query(duration) => {
                duration
            }
            // One call after another: the waits add up.
            SyncWait::Fetch(calls) => calls.seconds * calls.count,
            SyncWait::FetchOnThreads(calls) => calls.seconds,
        }
    }
}

impl Waits for AsyncWait {
    const SERVER: ServerKind = ServerKind::Async;

    fn for_route(route: WaitingRoute) -> Option<fn(Duration, Asked) -> AsyncWait> {
        Some(match route {
            WaitingRoute::Sleep => |seconds, _| AsyncWait::Sleep(seconds),
            WaitingRoute::Compute => |seconds, _| AsyncWait::Compute(seconds),
            WaitingRoute::Block => |seconds, _| AsyncWait::Block(seconds),
            WaitingRoute::Query => |seconds, _| AsyncWait::Query(seconds),
            WaitingRoute::Offload => |seconds, asked| AsyncWait::Offload(asked.work, seconds),
            // `via=threads` is accepted and means nothing more: the calls are at once already.
            WaitingRoute::Fetch => |seconds, asked| {
                AsyncWait::Fetch(Calls {
                    count: asked.count,
                    seconds,
                })
            },
        })
    }

    fn duration(self) -> Duration {
        match self {
            AsyncWait::Sleep(duration)
            | AsyncWait::Compute(duration)
            | AsyncWait::Block(duration)
            | AsyncWait::Query(duration)
            | AsyncWait::Offload(_, duration) => duration,
            AsyncWait::Fetch(calls) => calls.seconds,
        }
    }
}

/// Decides what to do with a request already screened, given what the server has (`limits`,
/// `backends`), its method (`GET`), its target as sent (`/sleep?seconds=1.5`) and who answers it
/// (the index page names them).
pub(crate) fn route<W: Waits>(
    limits: &Limits,
    backends: Backends,
    method: &str,
    target: &str,
    me: Identity,
) -> Plan<W> {
    // A plain scan: a target is short, and `str::split_once` sets up a searcher first.
    let (path, query) = match target.bytes().position(|byte| byte == b'?') {
        Some(at) => (&target[..at], Some(&target[at + 1..])),
        None => (target, None),
    };
    let Some(route) = Route::<W>::of(path) else {
        return Plan::answer_at_once(Answer::text(
            404,
            match W::SERVER {
                ServerKind::Sync => {
                    "not found; the routes are /, /sleep, /nosleep, /compute, /query and /fetch\n"
                }
                ServerKind::Async => {
                    "not found; the routes are /, /sleep, /nosleep, /compute, /query, /fetch, \
                     /block and /offload\n"
                }
            },
        ));
    };
    if method != "GET" && method != "HEAD" {
        return Plan::answer_at_once(Answer {
            allow: Some(ALLOWED_METHODS),
            ..Answer::text(405, "method not allowed; use GET or HEAD\n")
        });
    }
    let (waiting, wait) = match route {
        Route::Index => {
            return Plan::answer_at_once(Answer {
                content_type: HTML,
                body: Cow::Owned(crate::page::index(W::SERVER, backends, me)),
                ..Answer::text(200, "")
            })
        }
        Route::Favicon => return Plan::answer_at_once(Answer::text(204, "")),
        Route::NoSleep => return Plan::answer_at_once(Answer::text(200, "no sleep")),
        Route::Waits(waiting, wait) => (waiting, wait),
    };
    let asked = match asked(waiting, query) {
        Ok(asked) => asked,
        Err(reason) => return Plan::answer_at_once(Answer::refusal(400, reason)),
    };
    let asks_database = waiting == WaitingRoute::Query || asked.work == Work::Query;
    if asks_database && !backends.database {
        return Plan::answer_at_once(Answer::no_database());
    }
    if waiting == WaitingRoute::Fetch && !backends.upstream {
        return Plan::answer_at_once(Answer::no_upstream());
    }
    match requested_seconds(query, limits) {
        Ok(duration) => Plan {
            wait: Some(wait(duration, asked)),
            answer: Answer::text(200, waiting.body()),
        },
        Err(reason) => Plan::answer_at_once(Answer::refusal(400, reason)),
    }
}

/// What a request on `waiting` asks besides `seconds`, each parameter read only where it means
/// something (`work=` on `/sleep` is not judged), or the one-line reason it is refused.
fn asked(waiting: WaitingRoute, query: Option<&str>) -> Result<Asked, String> {
    let mut asked = Asked {
        work: Work::Sleep,
        count: 1,
        via: Via::HandlerThread,
    };
    match waiting {
        WaitingRoute::Offload => asked.work = requested_work(query)?,
        WaitingRoute::Fetch => {
            asked.count = requested_count(query)?;
            asked.via = requested_via(query)?;
        }
        _ => {}
    }
    Ok(asked)
}

/// A path a server has, and for a waiting one, how this server waits.
enum Route<W> {
    Index,
    Favicon,
    NoSleep,
    Waits(WaitingRoute, fn(Duration, Asked) -> W),
}

impl<W: Waits> Route<W> {
    fn of(path: &str) -> Option<Route<W>> {
        // `/sleep/` means the same as `/sleep`.
        let path = match path.strip_suffix('/') {
            Some(trimmed) if !trimmed.is_empty() => trimmed,
            _ => path,
        };
        let waiting = match path {
            "/" => return Some(Route::Index),
            "/favicon.ico" => return Some(Route::Favicon),
            "/nosleep" => return Some(Route::NoSleep),
            "/sleep" => WaitingRoute::Sleep,
            "/compute" => WaitingRoute::Compute,
            "/block" => WaitingRoute::Block,
            "/offload" => WaitingRoute::Offload,
            "/query" => WaitingRoute::Query,
            "/fetch" => WaitingRoute::Fetch,
            _ => return None,
        };
        W::for_route(waiting).map(|wait| Route::Waits(waiting, wait))
    }
}

impl WaitingRoute {
    /// The body of the answer once the wait is over.
    fn body(self) -> &'static str {
        match self {
            WaitingRoute::Sleep => "sleep",
            WaitingRoute::Compute => "compute",
            WaitingRoute::Block => "block",
            WaitingRoute::Offload => "offload",
            WaitingRoute::Query => "query",
            WaitingRoute::Fetch => "fetch",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        default_sleep: Duration::from_secs(5),
        max_sleep: Duration::from_secs(60),
    };
    const ME: Identity = Identity { pid: 7, tid: 9 };
    const DB: Backends = Backends {
        database: true,
        upstream: true,
    };

    fn plan_of(method: &str, target: &str) -> Plan<SyncWait> {
        sync(method, target)
    }

    fn sync(method: &str, target: &str) -> Plan<SyncWait> {
        route(&LIMITS, DB, method, target, ME)
    }

    fn asynchronous(method: &str, target: &str) -> Plan<AsyncWait> {
        route(&LIMITS, DB, method, target, ME)
    }

    #[test]
    fn sleep_waits_what_the_query_asks_and_answers_sleep() {
        let plan = plan_of("GET", "/sleep");
        assert_eq!(plan.wait, Some(SyncWait::Sleep(Duration::from_secs(5))));
        assert_eq!(plan.answer, Answer::text(200, "sleep"));
        let plan = plan_of("GET", "/sleep?seconds=1.5");
        assert_eq!(
            plan.wait,
            Some(SyncWait::Sleep(Duration::from_millis(1500)))
        );
    }

    #[test]
    fn each_call_asks_the_upstream_to_sleep_the_seconds_of_the_fetch() {
        let calls = Calls {
            count: 3,
            seconds: Duration::from_millis(250),
        };
        assert_eq!(
            calls.url("http://127.0.0.1:9"),
            "http://127.0.0.1:9/sleep?seconds=0.25"
        );
        assert_eq!(crate::FetchFailure::unless_success(204), Ok(()));
        assert_eq!(
            crate::FetchFailure::unless_success(404),
            Err(crate::FetchFailure::Status(404))
        );
    }

    #[test]
    fn a_bad_seconds_is_a_400_that_does_not_wait() {
        let plan = plan_of("GET", "/sleep?seconds=abc");
        assert_eq!((plan.answer.status, plan.wait), (400, None));
        assert!(plan.answer.body.contains("\"abc\" is not a number"));
    }

    #[test]
    fn nosleep_answers_at_once() {
        let plan = plan_of("GET", "/nosleep");
        assert_eq!(plan.wait, None);
        assert_eq!(plan.answer, Answer::text(200, "no sleep"));
        // Parameters mean nothing to /nosleep.
        assert_eq!(plan_of("GET", "/nosleep?seconds=9999").answer.status, 200);
    }

    #[test]
    fn a_trailing_slash_means_the_same() {
        assert_eq!(plan_of("GET", "/sleep/"), plan_of("GET", "/sleep"));
        assert_eq!(
            plan_of("GET", "/sleep/?seconds=1"),
            plan_of("GET", "/sleep?seconds=1")
        );
        assert_eq!(plan_of("GET", "/nosleep/"), plan_of("GET", "/nosleep"));
        assert_eq!(plan_of("GET", "/sleep//").answer.status, 404);
    }

    #[test]
    fn head_is_planned_like_get() {
        assert_eq!(
            plan_of("HEAD", "/sleep?seconds=1"),
            plan_of("GET", "/sleep?seconds=1")
        );
        assert_eq!(plan_of("HEAD", "/nosleep"), plan_of("GET", "/nosleep"));
    }

    #[test]
    fn unknown_paths_are_404_whatever_the_method() {
        for (method, target) in [
            ("GET", "/sleeps"),
            ("GET", "/SLEEP"),
            ("POST", "/nope"),
            ("GET", "*"),
            ("GET", ""),
            ("GET", "http://example.com/sleep"),
        ] {
            let plan = plan_of(method, target);
            assert_eq!(plan.answer.status, 404, "{method} {target}");
            assert_eq!(plan.wait, None);
            assert_eq!(plan.answer.allow, None);
        }
    }

    #[test]
    fn other_methods_on_known_paths_are_405_with_allow() {
        for method in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH", "get", "BREW"] {
            for target in ["/sleep", "/nosleep/", "/sleep?seconds=oops"] {
                let plan = plan_of(method, target);
                assert_eq!(plan.answer.status, 405, "{method} {target}");
                assert_eq!(plan.answer.allow, Some("GET, HEAD"));
                assert_eq!(plan.wait, None);
            }
        }
    }

    #[test]
    fn the_maximum_follows_the_limits() {
        let limits = Limits {
            default_sleep: Duration::ZERO,
            max_sleep: Duration::from_millis(1500),
        };
        let over: Plan<SyncWait> = route(&limits, DB, "GET", "/sleep?seconds=1.51", ME);
        assert_eq!(over.answer.status, 400);
        assert!(over.answer.body.contains("maximum of 1.5;"));
        let default = route(&limits, DB, "GET", "/sleep", ME).wait;
        assert_eq!(default, Some(SyncWait::Sleep(Duration::ZERO)));
    }

    #[test]
    fn the_index_page_is_html_naming_who_answers_and_the_favicon_is_empty() {
        let page = asynchronous("GET", "/").answer;
        assert_eq!((page.status, page.content_type), (200, HTML));
        assert!(page.body.starts_with("<!doctype html>"));
        assert!(page.body.contains("<code id=\"tid\">9</code>"));
        assert_eq!(sync("HEAD", "/").answer.status, 200);
        assert_eq!(sync("POST", "/").answer.status, 405);
        let icon = sync("GET", "/favicon.ico").answer;
        assert_eq!((icon.status, icon.body.as_ref()), (204, ""));
    }

    #[test]
    fn block_and_offload_exist_only_on_the_async_server() {
        for target in ["/block", "/offload/", "/block?seconds=1"] {
            let plan = sync("GET", target);
            assert_eq!((plan.answer.status, plan.wait), (404, None), "{target}");
            assert!(plan
                .answer
                .body
                .contains("/, /sleep, /nosleep, /compute, /query and /fetch"));
        }
        let block = asynchronous("GET", "/block?seconds=1.5");
        assert_eq!(
            block.wait,
            Some(AsyncWait::Block(Duration::from_millis(1500)))
        );
        assert_eq!(block.answer, Answer::text(200, "block"));
        let offload = asynchronous("HEAD", "/offload");
        let wait = AsyncWait::Offload(Work::Sleep, Duration::from_secs(5));
        assert_eq!(offload.wait, Some(wait));
        assert_eq!(offload.answer, Answer::text(200, "offload"));
        // Same rules and cap as /sleep.
        let over = asynchronous("GET", "/offload?seconds=61");
        assert!(over.answer.body.contains("above the maximum of 60"));
        assert_eq!(asynchronous("POST", "/block").answer.status, 405);
        let unknown = asynchronous("GET", "/nope").answer;
        assert!(unknown.body.contains("/query, /fetch, /block and /offload"));
        // The seed's routes are the same on both.
        let two = Duration::from_secs(2);
        let (on_sync, on_async) = (
            sync("GET", "/sleep?seconds=2"),
            asynchronous("GET", "/sleep?seconds=2"),
        );
        assert_eq!(on_sync.wait, Some(SyncWait::Sleep(two)));
        assert_eq!(on_async.wait, Some(AsyncWait::Sleep(two)));
        assert_eq!(on_sync.answer, on_async.answer);
    }

    #[test]
    fn query_is_on_both_servers_and_offload_takes_it_as_a_work() {
        let two = Duration::from_secs(2);
        let plan = sync("GET", "/query?seconds=2");
        assert_eq!(plan.wait, Some(SyncWait::Query(two)));
        assert_eq!(plan.answer, Answer::text(200, "query"));
        let plan = asynchronous("HEAD", "/query/?seconds=2");
        assert_eq!(plan.wait, Some(AsyncWait::Query(two)));
        let plan = asynchronous("GET", "/offload?seconds=2&work=query");
        assert_eq!(plan.wait, Some(AsyncWait::Offload(Work::Query, two)));
        assert_eq!(sync("GET", "/query?seconds=61").answer.status, 400);
        assert_eq!(sync("POST", "/query").answer.status, 405);
        // Without a database the route is there, and says how to give one.
        let none = Backends::default();
        for target in ["/query?seconds=1", "/offload?work=query"] {
            let plan: Plan<AsyncWait> = route(&LIMITS, none, "GET", target, ME);
            assert_eq!((plan.answer.status, plan.wait), (503, None), "{target}");
            assert!(plan.answer.body.contains("--database"));
        }
        let plan: Plan<SyncWait> = route(&LIMITS, none, "GET", "/query", ME);
        assert_eq!(plan.answer.status, 503);
        let offload: Plan<AsyncWait> = route(&LIMITS, none, "GET", "/offload", ME);
        assert_eq!(offload.answer.status, 200, "other work needs no database");
    }

    #[test]
    fn compute_is_on_both_servers_and_offload_takes_a_work() {
        let half = Duration::from_millis(500);
        let plan = sync("GET", "/compute?seconds=0.5");
        assert_eq!(plan.wait, Some(SyncWait::Compute(half)));
        assert_eq!(plan.answer.body, "compute");
        let plan = asynchronous("GET", "/compute?seconds=0.5");
        assert_eq!(plan.wait, Some(AsyncWait::Compute(half)));
        assert_eq!(plan.answer.body, "compute");
        let compute = asynchronous("GET", "/offload?seconds=2&work=compute");
        let wait = AsyncWait::Offload(Work::Compute, Duration::from_secs(2));
        assert_eq!(compute.wait, Some(wait));
        let sleep = asynchronous("GET", "/offload?work=sleep");
        let wait = AsyncWait::Offload(Work::Sleep, Duration::from_secs(5));
        assert_eq!(sleep.wait, Some(wait));
        let bad = asynchronous("GET", "/offload?work=dance");
        assert_eq!((bad.answer.status, bad.wait), (400, None));
        assert!(
            bad.answer.body.contains("work=\"dance\""),
            "{:?}",
            bad.answer.body
        );
        // work= means something to /offload only.
        let sleep = sync("GET", "/sleep?seconds=1&work=dance");
        assert_eq!(sleep.answer.status, 200);
    }

    #[test]
    fn fetch_is_on_both_servers_with_its_count_and_via() {
        let one = Duration::from_secs(1);
        let calls = |count| Calls {
            count,
            seconds: one,
        };
        let plan = sync("GET", "/fetch?seconds=1");
        assert_eq!(plan.wait, Some(SyncWait::Fetch(calls(1))));
        assert_eq!(plan.answer, Answer::text(200, "fetch"));
        let plan = sync("GET", "/fetch?seconds=1&count=3&via=threads");
        assert_eq!(plan.wait, Some(SyncWait::FetchOnThreads(calls(3))));
        let plan = asynchronous("HEAD", "/fetch/?count=32&seconds=1");
        assert_eq!(plan.wait, Some(AsyncWait::Fetch(calls(32))));
        let plan = asynchronous("GET", "/fetch?seconds=1&count=2&via=threads");
        assert_eq!(plan.wait, Some(AsyncWait::Fetch(calls(2))));
        // One after another, the waits add up: that is what the grace period must cover.
        assert_eq!(SyncWait::Fetch(calls(3)).duration(), one * 3);
        assert_eq!(SyncWait::FetchOnThreads(calls(3)).duration(), one);
        assert_eq!(AsyncWait::Fetch(calls(3)).duration(), one);
        for (target, says) in [
            ("/fetch?count=0", "count=\"0\""),
            ("/fetch?count=33", "count=\"33\""),
            ("/fetch?count=two", "count=\"two\""),
            ("/fetch?count=1&count=2", "more than once"),
            ("/fetch?via=processes", "via=\"processes\""),
            ("/fetch?seconds=61", "above the maximum"),
        ] {
            let on_sync = sync("GET", target);
            assert_eq!(
                (on_sync.answer.status, on_sync.wait),
                (400, None),
                "{target}"
            );
            assert!(
                on_sync.answer.body.contains(says),
                "{target}: {}",
                on_sync.answer.body
            );
            let on_async = asynchronous("GET", target);
            assert_eq!((on_async.answer, on_async.wait), (on_sync.answer, None));
        }
        // count= and via= mean something to /fetch only.
        assert_eq!(sync("GET", "/sleep?seconds=1&count=99").answer.status, 200);
        // Without an upstream the route is there, and says how to give one.
        let none = Backends {
            upstream: false,
            ..DB
        };
        let plan: Plan<AsyncWait> = route(&LIMITS, none, "GET", "/fetch?seconds=1", ME);
        assert_eq!((plan.answer.status, plan.wait), (503, None));
        assert!(plan.answer.body.contains("--upstream"));
    }
}
