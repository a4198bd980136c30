//! The one way into the core: a request's head in, a [`Plan`] out.
//!
//! [`Router::plan`] checks the HTTP version, screens the head, routes it, lets a
//! loopback page from the other server read the answer (CORS), and keeps a wait within what is
//! left of a shutdown's grace period. Everything it needs is passed in, who answers included, so
//! the same head always gets the same plan.

use std::time::Duration;

use crate::answer::Answer;
use crate::routes::{Plan, Router};
use crate::Identity;

/// A request's HTTP version, as far as the routes care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
    /// Anything else (`HTTP/2.0`, `HTTP/0.9`): answered `505`.
    Other,
}

impl Version {
    /// The version of a request line's `HTTP/<major>.<minor>`.
    pub fn of(major: u8, minor: u8) -> Version {
        match (major, minor) {
            (1, 0) => Version::Http10,
            (1, 1) => Version::Http11,
            _ => Version::Other,
        }
    }
}

/// The request line: what a request asks for, and what its log lines name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head<'a> {
    /// As sent: `GET`.
    pub method: &'a str,
    /// As sent: `/sleep?seconds=1.5`.
    pub target: &'a str,
    pub version: Version,
}

impl Router {
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
    ) -> Plan {
        if head.version == Version::Other {
            return Plan::now(Answer::text(
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
        let mut plan = match crate::screen::screen(head.target, headers) {
            Some(refusal) => Plan::now(refusal),
            None => self.route(head.method, head.target, me),
        };
        if let (Some(wait), Some(grace)) = (plan.wait, grace_left) {
            if wait.duration() > grace {
                plan = Plan::now(Answer::shutting_down());
            }
        }
        let loopback = origin
            .and_then(|value| std::str::from_utf8(value).ok())
            .filter(|origin| is_loopback(origin));
        plan.answer.allow_origin = loopback.map(str::to_owned);
        plan
    }
}

/// Whether a `Connection` header's value names `token` (`close`, `keep-alive`), in any case: the
/// word both servers read to know whether a connection stays open.
pub fn says(connection: &[u8], token: &str) -> bool {
    connection
        .windows(token.len())
        .any(|part| part.eq_ignore_ascii_case(token.as_bytes()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Field, Flavor, Limits, Value, Wait};

    const ROUTER: Router = Router {
        flavor: Flavor::Async,
        limits: Limits {
            default_sleep: Duration::from_secs(5),
            max_sleep: Duration::from_secs(60),
        },
    };
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
    fn connection_tokens_are_read_in_any_case() {
        assert!(says(b"Keep-Alive", "keep-alive"));
        assert!(says(b"keep-alive, Upgrade", "upgrade"));
        assert!(says(b"CLOSE", "close"));
        assert!(!says(b"keep-alive", "close"));
        assert!(!says(b"", "close"));
    }

    #[test]
    fn versions_are_read_from_the_request_line() {
        assert_eq!(Version::of(1, 0), Version::Http10);
        assert_eq!(Version::of(1, 1), Version::Http11);
        for (major, minor) in [(0, 9), (2, 0), (1, 2), (3, 0)] {
            assert_eq!(Version::of(major, minor), Version::Other);
        }
    }

    #[test]
    fn a_request_is_screened_before_it_is_routed() {
        let plain = ROUTER.plan(get("/sleep?seconds=1"), NONE, ME, None);
        assert_eq!(plain, ROUTER.route("GET", "/sleep?seconds=1", ME));
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
        assert_eq!(fits.wait, Some(Wait::Sleep(Duration::from_secs(2))));
        let block = ROUTER.plan(get("/block?seconds=3"), NONE, ME, grace);
        assert_eq!(block.answer.status, 503);
        let quick = ROUTER.plan(get("/nosleep"), NONE, ME, Some(Duration::ZERO));
        assert_eq!(quick.answer.status, 200);
    }
}
