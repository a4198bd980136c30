//! An answer before a server turns it into bytes: its status, body and header fields.
//!
//! Each header field is named here once, as it goes on the wire; the servers write these names
//! (sync-server) or turn them into their HTTP library's type (async-server), never spell them.

use std::borrow::Cow;

use crate::Identity;

/// The `Content-Type` of every answer but the index page.
pub const CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// The `Content-Type` of the index page.
pub const HTML: &str = "text/html; charset=utf-8";

/// The methods every route accepts, as the `Allow` header of a `405` lists them.
pub const ALLOWED_METHODS: &str = "GET, HEAD";

/// The headers a page from another origin may read.
const EXPOSED: &str = "X-Pid, X-Tid, X-Work-Tid, X-Db-Pid, X-Fetch-Ms";

/// A response, before a server turns it into bytes. A server that answers a `HEAD` request sends
/// the same status and headers and leaves the body out.
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
    /// The `X-Db-Pid` header: the process id of the database backend that ran a `/query`'s
    /// statement. The server fills it in once the database has answered.
    pub db_pid: Option<u32>,
    /// The `X-Fetch-Ms` header: how long a `/fetch`'s calls took together, in milliseconds.
    /// The server fills it in once the last call is over.
    pub fetch_ms: Option<u64>,
}

/// Why a call to the upstream failed, as a server found it: each kind is answered its own way
/// ([`Answer::after_fetch`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchFailure {
    /// No connection could be made (refused, say): `502` at once.
    Unreachable(String),
    /// What came back was not a complete HTTP answer (not HTTP, or cut off): `502`.
    Broken(String),
    /// The upstream answered with this error status: `502`, naming it.
    Status(u16),
    /// No answer within this bound (the call's `seconds` plus `--header-timeout`): `504`.
    TooSlow(std::time::Duration),
    /// No connection to the upstream came free within this bound (`--upstream-connections`
    /// all busy for `--max-sleep`): `504`.
    NoConnection(std::time::Duration),
}

impl FetchFailure {
    /// What the status of an upstream's complete answer means for the call: a success, or
    /// [`FetchFailure::Status`].
    pub fn unless_success(status: u16) -> Result<(), FetchFailure> {
        match status {
            200..=299 => Ok(()),
            status => Err(FetchFailure::Status(status)),
        }
    }
}

macro_rules! fields {
    ($($field:ident => $name:literal,)*) => {
        /// The header fields an answer may carry.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Field {
            $($field,)*
        }

        impl Field {
            /// Every field, in the order of its declaration (so `Field::ALL[field as usize]` is
            /// `field`).
            pub const ALL: &[Field] = &[$(Field::$field,)*];

            /// The field's name as it goes on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Field::$field => $name,)*
                }
            }
        }
    };
}

fields! {
    ContentType => "Content-Type",
    Allow => "Allow",
    XPid => "X-Pid",
    XTid => "X-Tid",
    XWorkTid => "X-Work-Tid",
    XDbPid => "X-Db-Pid",
    XFetchMs => "X-Fetch-Ms",
    RetryAfter => "Retry-After",
    CacheControl => "Cache-Control",
    AccessControlAllowOrigin => "Access-Control-Allow-Origin",
    AccessControlExposeHeaders => "Access-Control-Expose-Headers",
}

/// A header value: fixed text, a number the server formats its own way, or text taken from the
/// request (a CORS origin).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    Text(&'static str),
    Number(u64),
    Echo(&'a str),
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
            db_pid: None,
            fetch_ms: None,
        }
    }

    /// A refusal whose body says what was wrong (one line, ending in a newline).
    pub(crate) fn refusal(status: u16, reason: String) -> Answer {
        Answer {
            body: Cow::Owned(reason),
            ..Answer::text(status, "")
        }
    }

    /// `503` for a request a server has received but will not start, because it is shutting down.
    pub fn shutting_down() -> Answer {
        Answer {
            retry_after: Some(1),
            ..Answer::text(503, "the server is shutting down; try again later\n")
        }
    }

    /// `503` for a `/query` when the server has no database (`--database` not given).
    pub fn no_database() -> Answer {
        Answer {
            retry_after: Some(1),
            ..Answer::text(
                503,
                "no database: start the server with --database postgres://USER@HOST:PORT/DB \
                 (cargo run -p pgcluster starts a throwaway one and prints its URL)\n",
            )
        }
    }

    /// What a `/query` answers once its database call is over: `outcome` is the backend's
    /// process id, or why the database could not answer. A failure is a `503` with
    /// `Retry-After`, whose one-line body names the cause.
    pub fn after_query(&mut self, outcome: Result<u32, String>) {
        match outcome {
            Ok(pid) => self.db_pid = Some(pid),
            Err(cause) => {
                *self = Answer {
                    retry_after: Some(1),
                    ..Answer::refusal(503, format!("database unavailable: {}\n", one_line(&cause)))
                };
            }
        }
    }

    /// `503` for a `/fetch` when the server has no upstream (`--upstream` not given).
    pub fn no_upstream() -> Answer {
        Answer {
            retry_after: Some(1),
            ..Answer::text(
                503,
                "no upstream: start the server with --upstream http://HOST:PORT, the address of \
                 a server with /sleep (another async-server, say)\n",
            )
        }
    }

    /// What a `/fetch` answers once its calls are over: how long they took together, or why
    /// one failed. The upstream's own failings are `502` (it answered badly or not at all) and
    /// `504` (not in time); the one-line body names the cause.
    pub fn after_fetch(&mut self, outcome: Result<std::time::Duration, FetchFailure>) {
        let failure = match outcome {
            Ok(took) => {
                self.fetch_ms = Some(took.as_millis().try_into().unwrap_or(u64::MAX));
                return;
            }
            Err(failure) => failure,
        };
        let (status, reason) = match failure {
            FetchFailure::Unreachable(cause) => {
                (502, format!("upstream unreachable: {}", one_line(&cause)))
            }
            FetchFailure::Broken(cause) => (
                502,
                format!(
                    "upstream answered no complete HTTP answer: {}",
                    one_line(&cause)
                ),
            ),
            FetchFailure::Status(status) => (502, format!("upstream answered {status}")),
            FetchFailure::TooSlow(bound) => (
                504,
                format!(
                    "upstream did not answer within {} s (the call's seconds plus \
                     --header-timeout)",
                    bound.as_secs_f64()
                ),
            ),
            FetchFailure::NoConnection(bound) => (
                504,
                format!(
                    "no upstream connection came free within {} s (--upstream-connections are \
                     all busy)",
                    bound.as_secs_f64()
                ),
            ),
        };
        *self = Answer::refusal(status, reason + "\n");
    }

    /// `503` for a request on a connection beyond the server's limit.
    pub fn overloaded() -> Answer {
        Answer {
            retry_after: Some(1),
            ..Answer::text(503, "too many connections; try again in a second\n")
        }
    }

    /// The headers to send besides those the HTTP library adds (`Content-Length`, `Date`):
    /// the [common](common_headers) ones, then the answer's [own](Answer::own_headers).
    /// `answered_by` is the thread that ran the handler.
    pub fn headers(&self, answered_by: Identity) -> impl Iterator<Item = (Field, Value<'_>)> {
        common_headers(self.content_type, answered_by)
            .into_iter()
            .chain(self.own_headers())
    }

    /// Which fields [`Answer::own_headers`] gives, one bit each (`1 << field as u32`), read
    /// without making their values: a server that keeps its headers by shape asks it of every
    /// answer.
    pub fn own_fields(&self) -> u32 {
        let bit = |carried: bool, field: Field| u32::from(carried) << field as u32;
        let cors = self.allow_origin.is_some();
        bit(cors, Field::AccessControlAllowOrigin)
            | bit(cors, Field::AccessControlExposeHeaders)
            | bit(self.allow.is_some(), Field::Allow)
            | bit(self.work_tid.is_some(), Field::XWorkTid)
            | bit(self.db_pid.is_some(), Field::XDbPid)
            | bit(self.fetch_ms.is_some(), Field::XFetchMs)
            | bit(self.retry_after.is_some(), Field::RetryAfter)
    }

    /// The headers only some answers carry: CORS, `Allow`, `X-Work-Tid`, `Retry-After`.
    pub fn own_headers(&self) -> impl Iterator<Item = (Field, Value<'_>)> {
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
            self.db_pid
                .map(|pid| (Field::XDbPid, Value::Number(pid.into()))),
            self.fetch_ms.map(|ms| (Field::XFetchMs, Value::Number(ms))),
            self.retry_after
                .map(|secs| (Field::RetryAfter, Value::Number(secs))),
        ];
        cors.into_iter()
            .flatten()
            .chain(sometimes.into_iter().flatten())
    }
}

/// `text` on one line: its lines joined by spaces (a cause may span several).
fn one_line(text: &str) -> String {
    text.lines().collect::<Vec<_>>().join(" ")
}

/// An error and every error under it, on one line (`db error: FATAL: sorry, too many clients
/// already`): what a database failure's answer says of its cause.
pub fn cause_of(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut under = error.source();
    while let Some(cause) = under {
        let text = cause.to_string();
        if !line.contains(&text) {
            line = format!("{line}: {text}");
        }
        under = cause.source();
    }
    line
}

/// The headers every answer of type `content_type` from the thread `answered_by` carries: they
/// depend on nothing else, so a server may build them once and reuse them.
pub fn common_headers(
    content_type: &'static str,
    answered_by: Identity,
) -> [(Field, Value<'static>); 4] {
    [
        (Field::ContentType, Value::Text(content_type)),
        (Field::XPid, Value::Number(answered_by.pid.into())),
        (Field::XTid, Value::Number(answered_by.tid)),
        // Every request of the experiment must reach the server: a browser holds back a second
        // request for a URL whose answer it might cache. (Nothing being stored, the CORS header
        // needs no `Vary: Origin`.)
        (Field::CacheControl, Value::Text("no-store")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_carries_type_pid_tid_and_no_store() {
        let me = Identity { pid: 7, tid: 9 };
        let answer = Answer::text(200, "x");
        let headers: Vec<_> = answer.headers(me).collect();
        assert_eq!(
            headers,
            [
                (Field::ContentType, Value::Text("text/plain; charset=utf-8")),
                (Field::XPid, Value::Number(7)),
                (Field::XTid, Value::Number(9)),
                (Field::CacheControl, Value::Text("no-store")),
            ]
        );
    }

    #[test]
    fn optional_fields_follow_the_fixed_four() {
        let answer = Answer {
            allow_origin: Some("http://localhost:8000".to_owned()),
            allow: Some(ALLOWED_METHODS),
            work_tid: Some(11),
            retry_after: Some(1),
            ..Answer::text(200, "")
        };
        let headers: Vec<_> = answer.headers(Identity { pid: 1, tid: 1 }).collect();
        assert_eq!(
            headers[4..],
            [
                (
                    Field::AccessControlAllowOrigin,
                    Value::Echo("http://localhost:8000")
                ),
                (
                    Field::AccessControlExposeHeaders,
                    Value::Text("X-Pid, X-Tid, X-Work-Tid, X-Db-Pid, X-Fetch-Ms")
                ),
                (Field::Allow, Value::Text("GET, HEAD")),
                (Field::XWorkTid, Value::Number(11)),
                (Field::RetryAfter, Value::Number(1)),
            ]
        );
    }

    #[test]
    fn a_query_answer_names_its_backend_or_the_cause_in_one_line() {
        let mut served = Answer::text(200, "query");
        served.after_query(Ok(4242));
        assert_eq!((served.status, served.db_pid), (200, Some(4242)));
        let mut failed = Answer::text(200, "query");
        failed.after_query(Err("connection refused\nsecond line".to_owned()));
        assert_eq!((failed.status, failed.retry_after), (503, Some(1)));
        assert_eq!(
            failed.body,
            "database unavailable: connection refused second line\n"
        );
        assert_eq!(failed.db_pid, None);
        let none = Answer::no_database();
        assert_eq!((none.status, none.retry_after), (503, Some(1)));
        assert!(none.body.contains("--database") && none.body.ends_with('\n'));
    }

    #[test]
    fn fields_are_listed_in_order_with_their_wire_names() {
        for (at, field) in Field::ALL.iter().enumerate() {
            assert_eq!(*field as usize, at);
        }
        assert_eq!(Field::XWorkTid.as_str(), "X-Work-Tid");
        assert_eq!(Field::XFetchMs.as_str(), "X-Fetch-Ms");
        assert_eq!(Field::ALL.len(), 11);
    }

    #[test]
    fn a_fetch_answer_says_how_long_or_which_failure_in_one_line() {
        let mut served = Answer::text(200, "fetch");
        served.after_fetch(Ok(std::time::Duration::from_micros(1_002_900)));
        assert_eq!((served.status, served.fetch_ms), (200, Some(1002)));
        let headers: Vec<_> = served.own_headers().collect();
        assert_eq!(headers, [(Field::XFetchMs, Value::Number(1002))]);
        let second = std::time::Duration::from_millis(1500);
        for (failure, status, says) in [
            (
                FetchFailure::Unreachable("refused\nagain".into()),
                502,
                "unreachable: refused again",
            ),
            (
                FetchFailure::Broken("not HTTP".into()),
                502,
                "no complete HTTP answer: not HTTP",
            ),
            (FetchFailure::Status(500), 502, "upstream answered 500"),
            (FetchFailure::TooSlow(second), 504, "within 1.5 s"),
            (
                FetchFailure::NoConnection(second),
                504,
                "--upstream-connections",
            ),
        ] {
            let mut failed = Answer::text(200, "fetch");
            failed.after_fetch(Err(failure.clone()));
            assert_eq!(
                (failed.status, failed.fetch_ms),
                (status, None),
                "{failure:?}"
            );
            assert!(failed.body.contains(says), "{failure:?}: {}", failed.body);
            assert_eq!(failed.body.lines().count(), 1, "{failure:?}");
            assert!(failed.body.ends_with('\n'));
        }
        let none = Answer::no_upstream();
        assert_eq!((none.status, none.retry_after), (503, Some(1)));
        assert!(none.body.contains("--upstream") && none.body.ends_with('\n'));
    }

    #[test]
    fn own_fields_names_just_the_fields_own_headers_gives() {
        let bits = |answer: &Answer| {
            let given = answer.own_headers();
            given.fold(0, |bits, (field, _)| bits | 1 << field as u32)
        };
        let mut answer = Answer::text(200, "x");
        assert_eq!(answer.own_fields(), 0);
        let fields: [fn(&mut Answer); 6] = [
            |a| a.allow_origin = Some("http://localhost:8000".into()),
            |a| a.allow = Some("GET, HEAD"),
            |a| a.work_tid = Some(7),
            |a| a.db_pid = Some(8),
            |a| a.fetch_ms = Some(9),
            |a| a.retry_after = Some(1),
        ];
        for add in fields {
            let mut alone = Answer::text(200, "x");
            add(&mut alone);
            assert_ne!(alone.own_fields(), 0);
            assert_eq!(alone.own_fields(), bits(&alone));
            add(&mut answer);
            assert_eq!(answer.own_fields(), bits(&answer));
        }
    }
}
