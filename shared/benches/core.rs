//! What the core costs a request, in nanoseconds: `cargo bench -p shared`.
//!
//! Each benchmark is one request's worth of work on the hot path: screening and planning it,
//! listing its answer's headers, and formatting its two log lines into a buffer that is emptied
//! the way a server empties it.

use std::hint::black_box;
use std::io::sink;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use shared::{Flavor, Identity, Limits, LogBuffer, Router};

const ROUTER: Router = Router {
    flavor: Flavor::Async,
    limits: Limits {
        default_sleep: Duration::from_secs(5),
        max_sleep: Duration::from_secs(60),
    },
};

/// The head wrk sends.
const HEADERS: [(&str, &[u8]); 1] = [("host", b"127.0.0.1:8001")];

fn core(c: &mut Criterion) {
    let me = Identity::current();
    c.bench_function("plan /nosleep", |b| {
        b.iter(|| ROUTER.plan_request("GET", black_box("/nosleep"), (1, 1), HEADERS))
    });
    c.bench_function("plan /sleep?seconds=1.5", |b| {
        b.iter(|| ROUTER.plan_request("GET", black_box("/sleep?seconds=1.5"), (1, 1), HEADERS))
    });
    c.bench_function("plan a bad seconds (400)", |b| {
        b.iter(|| ROUTER.plan_request("GET", black_box("/sleep?seconds=abc"), (1, 1), HEADERS))
    });
    let answer = ROUTER.plan("GET", "/nosleep").answer;
    c.bench_function("list the answer's headers", |b| {
        b.iter(|| black_box(&answer).headers(me).count())
    });
    let mut log = LogBuffer::new();
    let took = Duration::from_micros(7);
    c.bench_function("log START and DONE", |b| {
        b.iter(|| {
            log.start(me, "GET", black_box("/nosleep"));
            log.done(me, "GET", black_box("/nosleep"), &answer, took);
            if log.is_full() {
                let _ = log.write_to(&mut sink());
            }
        })
    });
    c.bench_function("a whole /nosleep (plan, headers, log)", |b| {
        b.iter(|| {
            let plan = ROUTER.plan_request("GET", black_box("/nosleep"), (1, 1), HEADERS);
            log.start(me, "GET", "/nosleep");
            let headers = plan.answer.headers(me).count();
            log.done(me, "GET", "/nosleep", &plan.answer, took);
            if log.is_full() {
                let _ = log.write_to(&mut sink());
            }
            headers
        })
    });
}

criterion_group!(benches, core);
criterion_main!(benches);
