//! What the core costs a request, in nanoseconds: `cargo bench -p shared`.
//!
//! Each benchmark is one request's worth of work on the hot path: screening and planning it,
//! listing its answer's headers, and formatting its two log lines into a buffer that is emptied
//! the way a server empties it.

use std::hint::black_box;
use std::io::sink;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use shared::{AsyncWait, Head, Identity, Limits, LogBuffer, Plan, Router, Version};

const ROUTER: Router<AsyncWait> = Router::new(Limits {
    default_sleep: Duration::from_secs(5),
    max_sleep: Duration::from_secs(60),
});

/// The head wrk sends.
const HEADERS: [(&str, &[u8]); 1] = [("host", b"127.0.0.1:8001")];

fn plan(target: &str, me: Identity) -> Plan<AsyncWait> {
    let head = Head {
        method: "GET",
        target,
        version: Version::Http11,
    };
    ROUTER.plan(head, HEADERS, me, None)
}

fn core(c: &mut Criterion) {
    let me = Identity::current();
    c.bench_function("plan /nosleep", |b| {
        b.iter(|| plan(black_box("/nosleep"), me))
    });
    c.bench_function("plan /sleep?seconds=1.5", |b| {
        b.iter(|| plan(black_box("/sleep?seconds=1.5"), me))
    });
    c.bench_function("plan a bad seconds (400)", |b| {
        b.iter(|| plan(black_box("/sleep?seconds=abc"), me))
    });
    let answer = plan("/nosleep", me).answer;
    let head = Head {
        method: "GET",
        target: "/nosleep",
        version: Version::Http11,
    };
    c.bench_function("list the answer's headers", |b| {
        b.iter(|| black_box(&answer).headers(me).count())
    });
    let mut log = LogBuffer::new();
    let took = Duration::from_micros(7);
    c.bench_function("log START and DONE", |b| {
        b.iter(|| {
            log.start(me, black_box(head));
            log.done(me, black_box(head), &answer, took);
            if log.is_full() {
                let _ = log.write_to(&mut sink());
            }
        })
    });
    c.bench_function("a whole /nosleep (plan, headers, log)", |b| {
        b.iter(|| {
            let plan = plan(black_box("/nosleep"), me);
            log.start(me, head);
            let headers = plan.answer.headers(me).count();
            log.done(me, head, &plan.answer, took);
            if log.is_full() {
                let _ = log.write_to(&mut sink());
            }
            headers
        })
    });
}

criterion_group!(benches, core);
criterion_main!(benches);
