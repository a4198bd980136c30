//! The one way into the core: a request's head in, a [`Plan`] out.
//!
//! [`Router::plan`] checks the HTTP version, screens the head, routes it, lets a loopback page
//! from the other server read the answer (CORS), and keeps a wait within what is left of a
//! shutdown's grace period. Everything it needs is passed in, who answers included, so the same
//! head always gets the same plan.

use std::marker::PhantomData;
use std::time::Duration;

use crate::answer::Answer;
use crate::request::{is_loopback, Head, Version};
use crate::routes::{route, Backends, Limits, Plan, Waits};
use crate::Identity;

/// Turns requests into plans for one server: `W` is the kind of waits that server can do
/// ([`SyncWait`](crate::SyncWait) or [`AsyncWait`](crate::AsyncWait)), `limits` its `--sleep`
/// and `--max-sleep`.
#[derive(Debug)]
pub struct Router<W> {
    limits: Limits,
    backends: Backends,
    waits: PhantomData<fn() -> W>,
}

impl<W> Clone for Router<W> {
    fn clone(&self) -> Router<W> {
        *self
    }
}

impl<W> Copy for Router<W> {}

impl<W: Waits> Router<W> {
    /// A router for a server with these limits and nothing to talk to but its clients.
    pub const fn new(limits: Limits) -> Router<W> {
        Router {
            limits,
            backends: Backends {
                database: false,
                upstream: false,
            },
            waits: PhantomData,
        }
    }

    /// The same router, for a server with these `backends` (a database, say).
    pub const fn with(self, backends: Backends) -> Router<W> {
        Router { backends, ..self }
    }

    /// The whole decision for one request: its `head`, its header lines (name, value), the
    /// thread that answers it (`me`), and, once a shutdown has begun, how much of its grace
    /// period is left. A wait that would outlast the grace period is not started: the request is
    /// answered `503` at once instead.
    pub fn plan<'a>(
        &self,
        head: Head<'_>,
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        me: Identity,
        grace_left: Option<Duration>,
    ) -> Plan<W> {
        if head.version == Version::Other {
            return Plan::answer_at_once(Answer::text(
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
        let mut plan: Plan<W> = match crate::screen::screen(head.target, headers) {
            Some(refusal) => Plan::answer_at_once(refusal),
            None => route(&self.limits, self.backends, head.method, head.target, me),
        };
        if let (Some(wait), Some(grace)) = (plan.wait, grace_left) {
            if Waits::duration(wait) > grace {
                plan = Plan::answer_at_once(Answer::shutting_down());
            }
        }
        let loopback = origin
            .and_then(|value| std::str::from_utf8(value).ok())
            .filter(|origin| is_loopback(origin));
        plan.answer.allow_origin = loopback.map(str::to_owned);
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AsyncWait, Field, Value};

    const LIMITS: Limits = Limits {
        default_sleep: Duration::from_secs(5),
        max_sleep: Duration::from_secs(60),
    };
    const ROUTER: Router<AsyncWait> = Router::new(LIMITS);
    const ME: Identity = Identity { pid: 1, tid: 2 };
    const NONE: [(&str, &[u8]); 0] = [];

    fn get(target: &str) -> Head<'_> {
        Head {
            method: "GET",
            target,
            version: Version::Http11,
        }
    }

    #[test]
    fn a_request_is_screened_before_it_is_routed() {
        let plain = ROUTER.plan(get("/sleep?seconds=1"), NONE, ME, None);
        assert_eq!(
            plain,
            route(&LIMITS, Backends::default(), "GET", "/sleep?seconds=1", ME)
        );
        let old = Head {
            version: Version::Http10,
            ..get("/nosleep")
        };
        assert_eq!(ROUTER.plan(old, NONE, ME, None).answer.status, 200);
        let other = Head {
            version: Version::Other,
            ..get("/nosleep")
        };
        let refused = ROUTER.plan(other, NONE, ME, None);
        assert_eq!((refused.answer.status, refused.wait), (505, None));
        let body = [("Content-Length", &b"3"[..])];
        let refused = ROUTER.plan(get("/sleep?seconds=9"), body, ME, None);
        assert_eq!((refused.answer.status, refused.wait), (400, None));
    }

    #[test]
    fn cors_is_allowed_for_loopback_origins_only() {
        let origin = |value: &'static str| {
            let headers = [("Origin", value.as_bytes())];
            ROUTER
                .plan(get("/nosleep"), headers, ME, None)
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
        let headers = [("origin", &b"http://localhost:8000"[..])];
        let answer = ROUTER.plan(get("/nosleep"), headers, ME, None).answer;
        let fields: Vec<_> = answer.headers(ME).collect();
        assert!(fields.contains(&(
            Field::AccessControlAllowOrigin,
            Value::Echo("http://localhost:8000")
        )));
    }

    #[test]
    fn shutting_down_refuses_only_waits_that_outlast_the_grace_period() {
        let grace = Some(Duration::from_secs(2));
        let refused = ROUTER.plan(get("/sleep?seconds=2.5"), NONE, ME, grace);
        assert_eq!(refused.wait, None);
        assert_eq!(refused.answer.status, 503);
        assert_eq!(refused.answer.retry_after, Some(1));
        let fits = ROUTER.plan(get("/sleep?seconds=2"), NONE, ME, grace);
        assert_eq!(fits.wait, Some(AsyncWait::Sleep(Duration::from_secs(2))));
        let block = ROUTER.plan(get("/block?seconds=3"), NONE, ME, grace);
        assert_eq!(block.answer.status, 503);
        let quick = ROUTER.plan(get("/nosleep"), NONE, ME, Some(Duration::ZERO));
        assert_eq!(quick.answer.status, 200);
    }
}
