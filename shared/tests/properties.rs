//! Property tests of the core on arbitrary input, the fuzz target of this crate: whatever a
//! client sends as method and target, interpretation never panics and only ever produces the
//! answers the contract allows; log lines stay single and printable. Each property runs a fixed
//! number of cases, so the suite's time stays bounded.

use std::time::Duration;

use proptest::prelude::*;
use shared::{
    Answer, AsyncWait, Head, Identity, Limits, LogBuffer, Plan, Router, SyncWait, Version, Waits,
};

const MAX: Duration = Duration::from_secs(60);

fn router<W: Waits>() -> Router<W> {
    Router::new(Limits {
        default_sleep: Duration::from_secs(5),
        max_sleep: MAX,
    })
}

/// A request with no header lines, planned by a server that is not shutting down.
fn plan<W: Waits>(router: Router<W>, method: &str, target: &str) -> Plan<W> {
    let head = Head {
        method,
        target,
        version: Version::Http11,
    };
    let me = Identity { pid: 1, tid: 2 };
    router.plan(head, std::iter::empty(), me, None)
}

/// The plan of the same request on either server: the sync one's wait, and the async one's.
fn plans(method: &str, target: &str) -> (Plan<SyncWait>, Plan<AsyncWait>) {
    (
        plan(router(), method, target),
        plan(router(), method, target),
    )
}

/// What the contract allows any answer to be, whatever was asked.
fn allowed(answer: &Answer) -> Result<(), TestCaseError> {
    prop_assert!(
        [200, 204, 400, 404, 405, 503].contains(&answer.status),
        "{}",
        answer.status
    );
    // 503 only for a database call, which these servers (without --database) cannot make.
    prop_assert_eq!(answer.status == 503, answer.body.starts_with("no database"));
    prop_assert_eq!(answer.allow.is_some(), answer.status == 405);
    prop_assert_eq!(answer.work_tid, None);
    if answer.status == 400 {
        prop_assert!(answer.body.ends_with('\n'));
        prop_assert_eq!(answer.body.matches('\n').count(), 1, "{:?}", answer.body);
        prop_assert!(answer.body.len() < 300, "{} bytes", answer.body.len());
    }
    Ok(())
}

/// A plan that waits answers 200 to a GET or HEAD, and waits no longer than the maximum.
fn waits_within<W: Waits>(plan: &Plan<W>, method: &str) -> Result<(), TestCaseError> {
    if let Some(wait) = plan.wait {
        prop_assert_eq!(plan.answer.status, 200);
        prop_assert!(method == "GET" || method == "HEAD");
        prop_assert!(wait.duration() <= MAX);
    }
    Ok(())
}

/// Targets near the interesting ones: known paths, query syntax, escapes, controls, junk.
fn targets() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("/sleep".to_owned()),
        Just("/nosleep".to_owned()),
        Just("/block".to_owned()),
        Just("/offload".to_owned()),
        Just("/compute".to_owned()),
        Just("/query".to_owned()),
        Just("work=query".to_owned()),
        Just("work=compute".to_owned()),
        Just("/".to_owned()),
        Just("?".to_owned()),
        Just("&".to_owned()),
        Just("=".to_owned()),
        Just("seconds".to_owned()),
        Just("%".to_owned()),
        "%[0-9a-fA-F]{0,2}",
        "-?[0-9]{0,4}(\\.[0-9]{0,4})?(e-?[0-9]{1,3})?",
        Just("inf".to_owned()),
        Just("NaN".to_owned()),
        "\\PC{0,8}",
        "[\\x00-\\x1f\\x7f]{1,3}",
    ];
    prop::collection::vec(piece, 0..10).prop_map(|pieces| pieces.concat())
}

fn methods() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("GET".to_owned()),
        Just("HEAD".to_owned()),
        Just("POST".to_owned()),
        "[A-Za-z]{0,8}",
        "\\PC{0,6}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn any_request_gets_an_answer_the_contract_allows(method in methods(), target in targets()) {
        let (on_sync, on_async) = plans(&method, &target);
        allowed(&on_sync.answer)?;
        allowed(&on_async.answer)?;
        waits_within(&on_sync, &method)?;
        waits_within(&on_async, &method)?;
        // The sync server's waits are the async one's that hold a thread of its own; any other
        // route is not one of its routes.
        match (on_sync.wait, on_async.wait) {
            (Some(SyncWait::Sleep(a)), Some(AsyncWait::Sleep(b)))
            | (Some(SyncWait::Compute(a)), Some(AsyncWait::Compute(b)))
            | (Some(SyncWait::Query(a)), Some(AsyncWait::Query(b))) => prop_assert_eq!(a, b),
            (None, Some(AsyncWait::Block(_) | AsyncWait::Offload(..))) => {
                prop_assert_eq!(on_sync.answer.status, 404);
            }
            (None, None) => {}
            (sync, asynchronous) => prop_assert!(false, "{sync:?} against {asynchronous:?}"),
        }
    }

    #[test]
    fn a_number_of_seconds_waits_exactly_that_or_is_refused(
        seconds in prop_oneof![-100.0..100.0f64, 0.0..=60.0f64, Just(60.0), Just(0.0)],
    ) {
        let (on_sync, on_async) = plans("GET", &format!("/sleep?seconds={seconds}"));
        if (0.0..=60.0).contains(&seconds) {
            let asked = Duration::from_secs_f64(seconds);
            prop_assert_eq!(on_sync.wait, Some(SyncWait::Sleep(asked)));
            prop_assert_eq!(on_async.wait, Some(AsyncWait::Sleep(asked)));
        } else {
            prop_assert_eq!((on_sync.answer.status, on_sync.wait), (400, None));
            prop_assert_eq!((on_async.answer.status, on_async.wait), (400, None));
        }
    }

    #[test]
    fn log_lines_are_single_printable_and_bounded(method in methods(), target in targets()) {
        let me = Identity { pid: 1, tid: 2 };
        let mut log = LogBuffer::new();
        let answer = plan(router::<AsyncWait>(), &method, &target).answer;
        let head = Head { method: &method, target: &target, version: Version::Http11 };
        log.start(me, head);
        log.done(me, head, &answer, Duration::from_millis(3));
        let mut out = Vec::new();
        log.write_to(&mut out).unwrap();
        let text = String::from_utf8(out).expect("ASCII");
        let lines: Vec<_> = text.lines().collect();
        prop_assert_eq!(lines.len(), 2);
        prop_assert!(lines[0].starts_with("START PID 1 TID 2 "));
        prop_assert!(lines[1].starts_with("DONE PID 1 TID 2 "));
        for line in lines {
            prop_assert!(line.bytes().all(|b| b == b' ' || b.is_ascii_graphic()), "{line:?}");
            prop_assert!(line.len() < 700, "{} bytes", line.len());
        }
    }
}
