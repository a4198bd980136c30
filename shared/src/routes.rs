//! The routes: what each path means, and the wait it asks for.

use std::borrow::Cow;
use std::time::Duration;

use crate::answer::{Answer, ALLOWED_METHODS, HTML};
use crate::query::{requested_seconds, requested_work};
use crate::Identity;

/// How long a request may wait: the server's `--sleep` and `--max-sleep`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// The wait of a `/sleep` that names no duration.
    pub default_sleep: Duration,
    /// The longest wait a request may ask for.
    pub max_sleep: Duration,
}

/// Which routes a server has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// `/sleep`, `/nosleep` and `/compute`.
    Sync,
    /// Those, plus `/block` and `/offload`, which only mean something on an event loop.
    Async,
}

/// Turns requests into plans, for one kind of server with its limits. Its way in is
/// [`Router::plan`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Router {
    pub flavor: Flavor,
    pub limits: Limits,
}

/// What a server does with one request: wait (if `wait` says so), then send `answer`.
#[derive(Debug, PartialEq)]
pub struct Plan {
    pub wait: Option<Wait>,
    pub answer: Answer,
}

/// How a handler waits or works, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// The server's own way (`/sleep`): `std::thread::sleep` on `sync-server`,
    /// `tokio::time::sleep(..).await` on `async-server`.
    Sleep(Duration),
    /// CPU-bound work on the handler's own thread until it has used this much CPU time
    /// (`/compute`): on an event loop it holds the thread exactly as a blocking sleep does.
    Compute(Duration),
    /// A blocking sleep on the runtime's own thread (`/block`): the mistake of calling
    /// `time.sleep` in an `async def` view.
    Block(Duration),
    /// Blocking work on a thread of the blocking pool, awaited (`/offload`): the fix, like
    /// `sync_to_async` or `asyncio.to_thread`.
    Offload(Work, Duration),
}

/// The work `/offload` hands to the blocking pool (`work=` in its query).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// A blocking sleep (`work=sleep`, the default).
    Sleep,
    /// The `/compute` work (`work=compute`).
    Compute,
}

impl Wait {
    pub fn duration(self) -> Duration {
        match self {
            Wait::Sleep(duration)
            | Wait::Compute(duration)
            | Wait::Block(duration)
            | Wait::Offload(_, duration) => duration,
        }
    }
}

impl Plan {
    pub(crate) fn now(answer: Answer) -> Plan {
        Plan { wait: None, answer }
    }
}

impl Router {
    /// Decides what to do with a request already screened, given its method (`GET`), its
    /// target as sent (`/sleep?seconds=1.5`) and who answers it (the index page names them).
    pub(crate) fn route(&self, method: &str, target: &str, me: Identity) -> Plan {
        // A plain scan: a target is short, and `str::split_once` sets up a searcher first.
        let (path, query) = match target.bytes().position(|byte| byte == b'?') {
            Some(at) => (&target[..at], Some(&target[at + 1..])),
            None => (target, None),
        };
        let Some(route) = Route::of(path, self.flavor) else {
            return Plan::now(Answer::text(
                404,
                match self.flavor {
                    Flavor::Sync => "not found; the routes are /, /sleep, /nosleep and /compute\n",
                    Flavor::Async => {
                        "not found; the routes are /, /sleep, /nosleep, /compute, /block and \
                         /offload\n"
                    }
                },
            ));
        };
        if method != "GET" && method != "HEAD" {
            return Plan::now(Answer {
                allow: Some(ALLOWED_METHODS),
                ..Answer::text(405, "method not allowed; use GET or HEAD\n")
            });
        }
        let work = match route {
            Route::Offload => match requested_work(query) {
                Ok(work) => work,
                Err(reason) => return Plan::now(Answer::refusal(400, reason)),
            },
            _ => Work::Sleep,
        };
        let (wait, body): (fn(Duration, Work) -> Wait, _) = match route {
            Route::Index => {
                return Plan::now(Answer {
                    content_type: HTML,
                    body: Cow::Owned(crate::page::index(self.flavor, me)),
                    ..Answer::text(200, "")
                })
            }
            Route::Favicon => return Plan::now(Answer::text(204, "")),
            Route::NoSleep => return Plan::now(Answer::text(200, "no sleep")),
            Route::Sleep => (|seconds, _| Wait::Sleep(seconds), "sleep"),
            Route::Compute => (|seconds, _| Wait::Compute(seconds), "compute"),
            Route::Block => (|seconds, _| Wait::Block(seconds), "block"),
            Route::Offload => (|seconds, work| Wait::Offload(work, seconds), "offload"),
        };
        match requested_seconds(query, &self.limits) {
            Ok(duration) => Plan {
                wait: Some(wait(duration, work)),
                answer: Answer::text(200, body),
            },
            Err(reason) => Plan::now(Answer::refusal(400, reason)),
        }
    }
}

enum Route {
    Index,
    Favicon,
    Sleep,
    NoSleep,
    Compute,
    Block,
    Offload,
}

impl Route {
    fn of(path: &str, flavor: Flavor) -> Option<Route> {
        // `/sleep/` means the same as `/sleep`.
        let path = match path.strip_suffix('/') {
            Some(trimmed) if !trimmed.is_empty() => trimmed,
            _ => path,
        };
        match (path, flavor) {
            ("/", _) => Some(Route::Index),
            ("/favicon.ico", _) => Some(Route::Favicon),
            ("/sleep", _) => Some(Route::Sleep),
            ("/nosleep", _) => Some(Route::NoSleep),
            ("/compute", _) => Some(Route::Compute),
            // A sync server has no event loop to block, nor a thread to spare for offloading.
            ("/block", Flavor::Async) => Some(Route::Block),
            ("/offload", Flavor::Async) => Some(Route::Offload),
            _ => None,
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
    const SYNC: Router = Router {
        flavor: Flavor::Sync,
        limits: LIMITS,
    };
    const ASYNC: Router = Router {
        flavor: Flavor::Async,
        limits: LIMITS,
    };
    const ME: Identity = Identity { pid: 7, tid: 9 };

    fn plan_of(method: &str, target: &str) -> Plan {
        SYNC.route(method, target, ME)
    }

    #[test]
    fn sleep_waits_what_the_query_asks_and_answers_sleep() {
        let plan = plan_of("GET", "/sleep");
        assert_eq!(plan.wait, Some(Wait::Sleep(Duration::from_secs(5))));
        assert_eq!(plan.answer, Answer::text(200, "sleep"));
        let plan = plan_of("GET", "/sleep?seconds=1.5");
        assert_eq!(plan.wait, Some(Wait::Sleep(Duration::from_millis(1500))));
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
        let router = Router {
            flavor: Flavor::Sync,
            limits: Limits {
                default_sleep: Duration::ZERO,
                max_sleep: Duration::from_millis(1500),
            },
        };
        let over = router.route("GET", "/sleep?seconds=1.51", ME);
        assert_eq!(over.answer.status, 400);
        assert!(over.answer.body.contains("maximum of 1.5;"));
        let default = router.route("GET", "/sleep", ME).wait;
        assert_eq!(default, Some(Wait::Sleep(Duration::ZERO)));
    }

    #[test]
    fn the_index_page_is_html_naming_who_answers_and_the_favicon_is_empty() {
        let page = ASYNC.route("GET", "/", ME).answer;
        assert_eq!((page.status, page.content_type), (200, HTML));
        assert!(page.body.starts_with("<!doctype html>"));
        assert!(page.body.contains("<code id=\"tid\">9</code>"));
        assert_eq!(SYNC.route("HEAD", "/", ME).answer.status, 200);
        assert_eq!(SYNC.route("POST", "/", ME).answer.status, 405);
        let icon = SYNC.route("GET", "/favicon.ico", ME).answer;
        assert_eq!((icon.status, icon.body.as_ref()), (204, ""));
    }

    #[test]
    fn block_and_offload_exist_only_on_the_async_flavor() {
        for target in ["/block", "/offload/", "/block?seconds=1"] {
            let plan = SYNC.route("GET", target, ME);
            assert_eq!((plan.answer.status, plan.wait), (404, None), "{target}");
            assert!(plan
                .answer
                .body
                .contains("/, /sleep, /nosleep and /compute"));
        }
        let block = ASYNC.route("GET", "/block?seconds=1.5", ME);
        assert_eq!(block.wait, Some(Wait::Block(Duration::from_millis(1500))));
        assert_eq!(block.answer, Answer::text(200, "block"));
        let offload = ASYNC.route("HEAD", "/offload", ME);
        let wait = Wait::Offload(Work::Sleep, Duration::from_secs(5));
        assert_eq!(offload.wait, Some(wait));
        assert_eq!(offload.answer, Answer::text(200, "offload"));
        // Same rules and cap as /sleep.
        let over = ASYNC.route("GET", "/offload?seconds=61", ME);
        assert!(over.answer.body.contains("above the maximum of 60"));
        assert_eq!(ASYNC.route("POST", "/block", ME).answer.status, 405);
        let unknown = ASYNC.route("GET", "/nope", ME).answer;
        assert!(unknown.body.contains("/compute, /block and /offload"));
        // The seed's routes are the same on both.
        assert_eq!(
            ASYNC.route("GET", "/sleep?seconds=2", ME),
            SYNC.route("GET", "/sleep?seconds=2", ME)
        );
    }

    #[test]
    fn compute_is_on_both_flavors_and_offload_takes_a_work() {
        for router in [SYNC, ASYNC] {
            let plan = router.route("GET", "/compute?seconds=0.5", ME);
            let wait = Wait::Compute(Duration::from_millis(500));
            assert_eq!(
                (plan.wait, plan.answer.body.as_ref()),
                (Some(wait), "compute")
            );
        }
        let compute = ASYNC.route("GET", "/offload?seconds=2&work=compute", ME);
        let wait = Wait::Offload(Work::Compute, Duration::from_secs(2));
        assert_eq!(compute.wait, Some(wait));
        let sleep = ASYNC.route("GET", "/offload?work=sleep", ME);
        let wait = Wait::Offload(Work::Sleep, Duration::from_secs(5));
        assert_eq!(sleep.wait, Some(wait));
        let bad = ASYNC.route("GET", "/offload?work=dance", ME);
        assert_eq!((bad.answer.status, bad.wait), (400, None));
        assert!(
            bad.answer.body.contains("work=\"dance\""),
            "{:?}",
            bad.answer.body
        );
        // work= means something to /offload only.
        let sleep = SYNC.route("GET", "/sleep?seconds=1&work=dance", ME);
        assert_eq!(sleep.answer.status, 200);
    }
}
