//! What a request means and what to answer: the routes of `CONTRACT.md`, as a pure function.

use std::borrow::Cow;
use std::time::Duration;

use crate::Identity;

/// The `Content-Type` of every answer.
pub const CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// The headers a page from another origin may read.
const EXPOSED: &str = "X-Pid, X-Tid, X-Work-Tid";

/// The `Content-Type` of the index page.
pub const HTML: &str = "text/html; charset=utf-8";

/// The methods every route accepts, as the `Allow` header of a `405` lists them.
pub const ALLOWED_METHODS: &str = "GET, HEAD";

/// How long `/sleep` may wait: the server's `--sleep` and `--max-sleep`.
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
    /// `/sleep` and `/nosleep`.
    Sync,
    /// Those, plus `/block` and `/offload`, which only mean something on an event loop.
    Async,
}

/// Turns requests into plans, for one kind of server with its limits.
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

/// How a handler waits, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// The server's own way (`/sleep`): `std::thread::sleep` on `sync-server`,
    /// `tokio::time::sleep(..).await` on `async-server`.
    Sleep(Duration),
    /// A blocking sleep on the runtime's own thread (`/block`): the mistake of calling
    /// `time.sleep` in an `async def` view.
    Block(Duration),
    /// A blocking sleep on a thread of the blocking pool, awaited (`/offload`): the fix, like
    /// `sync_to_async` or `asyncio.to_thread`.
    Offload(Duration),
}

impl Wait {
    pub fn duration(self) -> Duration {
        match self {
            Wait::Sleep(duration) | Wait::Block(duration) | Wait::Offload(duration) => duration,
        }
    }
}

/// A response, before a server turns it into bytes. A server that answers a `HEAD` request sends
/// the same status and headers and leaves the body out (both HTTP libraries do that on their own).
#[derive(Debug, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Cow<'static, str>,
    /// The `Access-Control-Allow-Origin` header: the request's `Origin`, if it is a loopback
    /// one, so that a page from the other server may read this answer.
    pub allow_origin: Option<String>,
    /// The `Allow` header, on a `405` only.
    pub allow: Option<&'static str>,
    /// The `X-Work-Tid` header: the thread that did an offloaded request's blocking work. The
    /// server fills it in once the work is done.
    pub work_tid: Option<u64>,
    /// The `Retry-After` header, in seconds, on a `503`.
    pub retry_after: Option<u64>,
}

/// The header fields an answer may carry, named as they appear on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    ContentType,
    Allow,
    XPid,
    XTid,
    XWorkTid,
    RetryAfter,
    CacheControl,
    AccessControlAllowOrigin,
    AccessControlExposeHeaders,
}

/// A header value: fixed text, a number the server formats its own way, or text taken from the
/// request (a CORS origin).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    Text(&'static str),
    Number(u64),
    Echo(&'a str),
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::ContentType => "Content-Type",
            Field::Allow => "Allow",
            Field::XPid => "X-Pid",
            Field::XTid => "X-Tid",
            Field::XWorkTid => "X-Work-Tid",
            Field::RetryAfter => "Retry-After",
            Field::CacheControl => "Cache-Control",
            Field::AccessControlAllowOrigin => "Access-Control-Allow-Origin",
            Field::AccessControlExposeHeaders => "Access-Control-Expose-Headers",
        }
    }
}

impl Answer {
    pub(crate) fn text(status: u16, body: &'static str) -> Answer {
        Answer {
            status,
            content_type: CONTENT_TYPE,
            body: Cow::Borrowed(body),
            allow_origin: None,
            allow: None,
            work_tid: None,
            retry_after: None,
        }
    }

    /// `503` for a request a server has received but will not start, because it is shutting down.
    pub fn shutting_down() -> Answer {
        Answer {
            retry_after: Some(1),
            ..Answer::text(503, "the server is shutting down; try again later\n")
        }
    }

    /// `503` for a request on a connection beyond the server's limit.
    pub fn overloaded() -> Answer {
        Answer {
            retry_after: Some(1),
            ..Answer::text(503, "too many connections; try again in a second\n")
        }
    }

    /// The headers to send besides those the HTTP library adds (`Content-Length`, `Date`).
    /// `answered_by` is the thread that ran the handler.
    pub fn headers(&self, answered_by: Identity) -> impl Iterator<Item = (Field, Value<'_>)> {
        let always = [
            (Field::ContentType, Value::Text(self.content_type)),
            (Field::XPid, Value::Number(answered_by.pid.into())),
            (Field::XTid, Value::Number(answered_by.tid)),
            // Every request of the experiment must reach the server: a browser holds back a
            // second request for a URL whose answer it might cache. (Nothing being stored, the
            // CORS header below needs no `Vary: Origin`.)
            (Field::CacheControl, Value::Text("no-store")),
        ];
        let cors = self.allow_origin.as_deref().map(|origin| {
            [
                (Field::AccessControlAllowOrigin, Value::Echo(origin)),
                (Field::AccessControlExposeHeaders, Value::Text(EXPOSED)),
            ]
        });
        let sometimes = [
            self.allow
                .map(|methods| (Field::Allow, Value::Text(methods))),
            self.work_tid
                .map(|tid| (Field::XWorkTid, Value::Number(tid))),
            self.retry_after
                .map(|secs| (Field::RetryAfter, Value::Number(secs))),
        ];
        always
            .into_iter()
            .chain(cors.into_iter().flatten())
            .chain(sometimes.into_iter().flatten())
    }
}

impl Router {
    /// The whole decision for one request: its head is [screened](crate::screen) (and its
    /// HTTP version, `(1, 1)` say, checked), then it is [planned](Router::plan).
    pub fn plan_request<'a>(
        &self,
        method: &str,
        target: &str,
        version: (u8, u8),
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Plan {
        if version != (1, 0) && version != (1, 1) {
            return now(Answer::text(
                505,
                "HTTP version not supported; use HTTP/1.1\n",
            ));
        }
        let mut origin = None;
        let headers = headers.into_iter().inspect(|&(name, value)| {
            if name.eq_ignore_ascii_case("origin") {
                origin = Some(value);
            }
        });
        let mut plan = match crate::screen(target, headers) {
            Some(refusal) => now(refusal),
            None => self.plan(method, target),
        };
        let loopback = origin
            .and_then(|value| std::str::from_utf8(value).ok())
            .filter(|o| is_loopback(o));
        plan.answer.allow_origin = loopback.map(str::to_owned);
        plan
    }

    /// Decides what to do with a request, given its method (`GET`) and its target as sent
    /// (`/sleep?seconds=1.5`).
    pub fn plan(&self, method: &str, target: &str) -> Plan {
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (target, None),
        };
        let Some(route) = Route::of(path, self.flavor) else {
            return now(Answer::text(
                404,
                match self.flavor {
                    Flavor::Sync => "not found; the routes are /, /sleep and /nosleep\n",
                    Flavor::Async => {
                        "not found; the routes are /, /sleep, /nosleep, /block and /offload\n"
                    }
                },
            ));
        };
        if method != "GET" && method != "HEAD" {
            return now(Answer {
                allow: Some(ALLOWED_METHODS),
                ..Answer::text(405, "method not allowed; use GET or HEAD\n")
            });
        }
        let (wait, body): (fn(Duration) -> Wait, _) = match route {
            Route::Index => {
                return now(Answer {
                    content_type: HTML,
                    body: Cow::Owned(crate::page::index(self.flavor, Identity::current())),
                    ..Answer::text(200, "")
                })
            }
            Route::Favicon => return now(Answer::text(204, "")),
            Route::NoSleep => return now(Answer::text(200, "no sleep")),
            Route::Sleep => (Wait::Sleep, "sleep"),
            Route::Block => (Wait::Block, "block"),
            Route::Offload => (Wait::Offload, "offload"),
        };
        match requested_sleep(query, &self.limits) {
            Ok(duration) => Plan {
                wait: Some(wait(duration)),
                answer: Answer::text(200, body),
            },
            Err(reason) => now(Answer {
                body: Cow::Owned(reason),
                ..Answer::text(400, "")
            }),
        }
    }
}

impl Plan {
    /// The plan for a server that is shutting down with `grace` left: a wait that would outlast
    /// the grace period is not started, and the request is answered `503` at once instead.
    pub fn within(self, grace: Duration) -> Plan {
        match self.wait {
            Some(wait) if wait.duration() > grace => now(Answer::shutting_down()),
            _ => self,
        }
    }
}

/// Whether `origin` (`http://127.0.0.1:8000`, say) is a page served from this machine.
fn is_loopback(origin: &str) -> bool {
    let Some(authority) = origin.strip_prefix("http://") else {
        return false;
    };
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn now(answer: Answer) -> Plan {
    Plan { wait: None, answer }
}

enum Route {
    Index,
    Favicon,
    Sleep,
    NoSleep,
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
            // A sync server has no event loop to block, nor a thread to spare for offloading.
            ("/block", Flavor::Async) => Some(Route::Block),
            ("/offload", Flavor::Async) => Some(Route::Offload),
            _ => None,
        }
    }
}

/// The wait a `/sleep` (or `/block`, `/offload`) asks for, or the one-line reason (ending in a newline) it is refused.
fn requested_sleep(query: Option<&str>, limits: &Limits) -> Result<Duration, String> {
    let max = limits.max_sleep.as_secs_f64();
    let refuse = |problem: String| {
        Err(format!(
            "{problem}; expected seconds=S with S a decimal number from 0 to {max}\n"
        ))
    };
    let mut given = None;
    for pair in query.unwrap_or("").split('&') {
        let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
        if percent_decode(key).as_deref() != Some("seconds") {
            continue; // other parameters (a cache-buster, say) are not ours to judge
        }
        if given.replace(raw).is_some() {
            return refuse("seconds is given more than once".to_owned());
        }
    }
    let Some(raw) = given else {
        return Ok(limits.default_sleep);
    };
    let shown = quoted(raw);
    let Some(text) = percent_decode(raw) else {
        return refuse(format!("seconds={shown} is not valid percent-encoding"));
    };
    let Ok(seconds) = text.parse::<f64>() else {
        return refuse(format!("seconds={shown} is not a number"));
    };
    if !seconds.is_finite() {
        return refuse(format!("seconds={shown} is not finite"));
    }
    if seconds < 0.0 {
        return refuse(format!("seconds={shown} is negative"));
    }
    if seconds > max {
        return refuse(format!("seconds={shown} is above the maximum of {max}"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// A query value as it is safe to echo in a one-line error: quoted, escaped, and cut short.
fn quoted(raw: &str) -> String {
    const SHOWN: usize = 40;
    let mut shown: String = raw
        .chars()
        .take(SHOWN)
        .flat_map(char::escape_debug)
        .collect();
    if raw.chars().nth(SHOWN).is_some() {
        shown.push_str("...");
    }
    format!("\"{shown}\"")
}

/// Decodes `%XX` escapes; `None` when an escape is malformed or the result is not UTF-8.
fn percent_decode(text: &str) -> Option<Cow<'_, str>> {
    if !text.contains('%') {
        return Some(Cow::Borrowed(text));
    }
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = tail.get(..2)?;
            let hex = std::str::from_utf8(hex).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok().map(Cow::Owned)
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

    fn plan_of(method: &str, target: &str) -> Plan {
        SYNC.plan(method, target)
    }

    fn refusal(target: &str) -> String {
        let plan = plan_of("GET", target);
        assert_eq!(plan.wait, None, "{target} must not wait");
        assert_eq!(plan.answer.status, 400, "{target}");
        let body = plan.answer.body.into_owned();
        assert!(body.ends_with('\n'), "{body:?}");
        assert_eq!(body.lines().count(), 1, "one line: {body:?}");
        assert!(
            body.contains("from 0 to 60"),
            "says what is allowed: {body:?}"
        );
        body
    }

    #[test]
    fn sleep_waits_the_default_and_answers_sleep() {
        let plan = plan_of("GET", "/sleep");
        assert_eq!(plan.wait, Some(Wait::Sleep(Duration::from_secs(5))));
        assert_eq!(plan.answer, Answer::text(200, "sleep"));
    }

    #[test]
    fn sleep_waits_what_the_query_asks() {
        for (target, millis) in [
            ("/sleep?seconds=1.5", 1500),
            ("/sleep?seconds=0", 0),
            ("/sleep?seconds=60", 60_000),
            ("/sleep?seconds=.25", 250),
            ("/sleep?seconds=2.", 2000),
            ("/sleep?seconds=1e-1", 100),
            ("/sleep?seconds=-0", 0),
            ("/sleep?seconds=0%2E5", 500),
            ("/sleep?_=123&seconds=0.01", 10),
            ("/sleep?seconds=0.01&flag", 10),
            ("/sleep?%73econds=3", 3000),
        ] {
            let plan = plan_of("GET", target);
            assert_eq!(plan.answer.status, 200, "{target}");
            let wait = Wait::Sleep(Duration::from_millis(millis));
            assert_eq!(plan.wait, Some(wait), "{target}");
        }
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
    fn each_kind_of_bad_seconds_is_a_400_that_says_what_was_wrong() {
        for (target, says) in [
            ("/sleep?seconds=abc", "\"abc\" is not a number"),
            ("/sleep?seconds=", "\"\" is not a number"),
            ("/sleep?seconds", "\"\" is not a number"),
            ("/sleep?seconds=1,5", "not a number"),
            ("/sleep?seconds=%201", "not a number"),
            ("/sleep?seconds=-1", "\"-1\" is negative"),
            ("/sleep?seconds=-0.001", "is negative"),
            ("/sleep?seconds=61", "\"61\" is above the maximum of 60"),
            ("/sleep?seconds=60.0001", "above the maximum"),
            ("/sleep?seconds=1e308", "above the maximum"),
            ("/sleep?seconds=inf", "\"inf\" is not finite"),
            ("/sleep?seconds=-inf", "not finite"),
            ("/sleep?seconds=NaN", "\"NaN\" is not finite"),
            ("/sleep?seconds=1e999", "not finite"),
            ("/sleep?seconds=%zz", "not valid percent-encoding"),
            ("/sleep?seconds=%4", "not valid percent-encoding"),
            ("/sleep?seconds=%ff", "not valid percent-encoding"),
            ("/sleep?seconds=1&seconds=2", "more than once"),
        ] {
            let body = refusal(target);
            assert!(body.contains(says), "{target}: {body:?} lacks {says:?}");
        }
    }

    #[test]
    fn a_refusal_echoes_hostile_input_safely() {
        let long = format!("/sleep?seconds={}", "9".repeat(10_000));
        let body = refusal(&long);
        assert!(body.len() < 200, "{} bytes", body.len());
        assert!(body.contains("...\""));
        // A decoded newline must not split the one line; it is not decoded into the echo.
        let body = refusal("/sleep?seconds=1%0A2");
        assert!(body.contains("\"1%0A2\""), "{body:?}");
        let body = refusal("/sleep?seconds=a\nb\u{7}");
        assert!(body.contains(r#""a\nb\u{7}""#), "{body:?}");
    }

    #[test]
    fn the_maximum_follows_the_limits() {
        let limits = Limits {
            default_sleep: Duration::ZERO,
            max_sleep: Duration::from_millis(1500),
        };
        let router = Router {
            flavor: Flavor::Sync,
            limits,
        };
        let fine = router.plan("GET", "/sleep?seconds=1.5");
        assert_eq!(fine.wait, Some(Wait::Sleep(Duration::from_millis(1500))));
        let over = router.plan("GET", "/sleep?seconds=1.51");
        assert_eq!(over.answer.status, 400);
        assert!(
            over.answer.body.contains("maximum of 1.5;"),
            "{:?}",
            over.answer.body
        );
        assert_eq!(
            router.plan("GET", "/sleep").wait,
            Some(Wait::Sleep(Duration::ZERO))
        );
    }

    #[test]
    fn every_answer_carries_type_pid_tid_and_no_store() {
        let me = Identity { pid: 7, tid: 9 };
        for target in ["/sleep", "/nosleep", "/nope", "/sleep?seconds=x"] {
            let answer = plan_of("GET", target).answer;
            let headers: Vec<_> = answer.headers(me).collect();
            assert_eq!(
                headers[..4],
                [
                    (Field::ContentType, Value::Text("text/plain; charset=utf-8")),
                    (Field::XPid, Value::Number(7)),
                    (Field::XTid, Value::Number(9)),
                    (Field::CacheControl, Value::Text("no-store")),
                ],
                "{target}"
            );
        }
        let refused = plan_of("PUT", "/sleep").answer;
        let headers: Vec<_> = refused.headers(me).collect();
        assert_eq!(
            headers.last(),
            Some(&(Field::Allow, Value::Text("GET, HEAD")))
        );
    }

    #[test]
    fn the_index_page_is_html_and_the_favicon_is_empty() {
        let page = ASYNC.plan("GET", "/").answer;
        assert_eq!((page.status, page.content_type), (200, HTML));
        assert!(page.body.starts_with("<!doctype html>"));
        assert!(page.body.contains(&format!(
            "<code id=\"tid\">{}</code>",
            Identity::current().tid
        )));
        assert_eq!(SYNC.plan("HEAD", "/").answer.status, 200);
        assert_eq!(SYNC.plan("POST", "/").answer.status, 405);
        let icon = SYNC.plan("GET", "/favicon.ico").answer;
        assert_eq!((icon.status, icon.body.as_ref()), (204, ""));
    }

    #[test]
    fn cors_is_allowed_for_loopback_origins_only() {
        let origin = |value: &'static str| {
            let headers = [("Origin", value.as_bytes())];
            SYNC.plan_request("GET", "/nosleep", (1, 1), headers)
                .answer
                .allow_origin
        };
        for allowed in [
            "http://127.0.0.1:8001",
            "http://localhost:8000",
            "http://[::1]:8001",
            "http://127.1.2.3",
        ] {
            assert_eq!(origin(allowed).as_deref(), Some(allowed), "{allowed}");
        }
        for refused in [
            "http://example.com",
            "https://127.0.0.1:8001",
            "http://127.0.0.1.evil.com",
            "http://10.0.0.1:8000",
            "null",
            "",
        ] {
            assert_eq!(origin(refused), None, "{refused}");
        }
        let mut answer = ASYNC.plan("GET", "/nosleep").answer;
        answer.allow_origin = Some("http://localhost:8000".to_owned());
        let headers: Vec<_> = answer.headers(Identity { pid: 1, tid: 1 }).collect();
        assert!(headers.contains(&(
            Field::AccessControlAllowOrigin,
            Value::Echo("http://localhost:8000")
        )));
        assert!(headers.contains(&(
            Field::AccessControlExposeHeaders,
            Value::Text("X-Pid, X-Tid, X-Work-Tid")
        )));
    }

    #[test]
    fn block_and_offload_exist_only_on_the_async_flavor() {
        for target in ["/block", "/offload/", "/block?seconds=1"] {
            let plan = SYNC.plan("GET", target);
            assert_eq!((plan.answer.status, plan.wait), (404, None), "{target}");
            assert!(plan.answer.body.contains("/, /sleep and /nosleep"));
        }
        let block = ASYNC.plan("GET", "/block?seconds=1.5");
        assert_eq!(block.wait, Some(Wait::Block(Duration::from_millis(1500))));
        assert_eq!(block.answer, Answer::text(200, "block"));
        let offload = ASYNC.plan("HEAD", "/offload");
        assert_eq!(offload.wait, Some(Wait::Offload(Duration::from_secs(5))));
        assert_eq!(offload.answer, Answer::text(200, "offload"));
        // Same rules and cap as /sleep.
        let over = ASYNC.plan("GET", "/offload?seconds=61");
        assert!(over.answer.body.contains("above the maximum of 60"));
        assert_eq!(ASYNC.plan("POST", "/block").answer.status, 405);
        assert!(ASYNC
            .plan("GET", "/nope")
            .answer
            .body
            .contains("/block and /offload"));
        // The seed's routes are the same on both.
        assert_eq!(
            ASYNC.plan("GET", "/sleep?seconds=2"),
            SYNC.plan("GET", "/sleep?seconds=2")
        );
    }

    #[test]
    fn a_request_is_screened_before_it_is_planned() {
        let none: [(&str, &[u8]); 0] = [];
        let plain = ASYNC.plan_request("GET", "/sleep?seconds=1", (1, 1), none);
        assert_eq!(plain, ASYNC.plan("GET", "/sleep?seconds=1"));
        assert_eq!(
            ASYNC
                .plan_request("GET", "/nosleep", (1, 0), none)
                .answer
                .status,
            200
        );
        for version in [(0, 9), (2, 0), (1, 2)] {
            let refused = ASYNC.plan_request("GET", "/nosleep", version, none);
            assert_eq!(
                (refused.answer.status, refused.wait),
                (505, None),
                "{version:?}"
            );
        }
        let body = [("Content-Length", &b"3"[..])];
        let refused = SYNC.plan_request("GET", "/sleep?seconds=9", (1, 1), body);
        assert_eq!((refused.answer.status, refused.wait), (400, None));
    }

    #[test]
    fn offloaded_work_is_named_in_a_header() {
        let mut answer = ASYNC.plan("GET", "/offload").answer;
        answer.work_tid = Some(11);
        let me = Identity { pid: 7, tid: 9 };
        let headers: Vec<_> = answer.headers(me).collect();
        assert_eq!(headers.last(), Some(&(Field::XWorkTid, Value::Number(11))));
        assert_eq!(Field::XWorkTid.as_str(), "X-Work-Tid");
    }

    #[test]
    fn shutting_down_refuses_only_waits_that_outlast_the_grace_period() {
        let grace = Duration::from_secs(2);
        let refused = plan_of("GET", "/sleep?seconds=2.5").within(grace);
        assert_eq!(refused.wait, None);
        assert_eq!(refused.answer.status, 503);
        let headers: Vec<_> = refused
            .answer
            .headers(Identity { pid: 1, tid: 1 })
            .collect();
        assert!(headers.contains(&(Field::RetryAfter, Value::Number(1))));
        let fits = plan_of("GET", "/sleep?seconds=2").within(grace);
        assert_eq!(fits, plan_of("GET", "/sleep?seconds=2"));
        let quick = plan_of("GET", "/nosleep").within(Duration::ZERO);
        assert_eq!(quick, plan_of("GET", "/nosleep"));
    }
}
