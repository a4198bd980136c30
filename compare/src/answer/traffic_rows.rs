//! The answer page's two rows about traffic, from `load` and `overload` when they ran in the
//! same command: how many requests a second each design serves with its quick requests still
//! quick, and what it does with more than it can serve. Each figure beside the model's,
//! predicted from the same arrivals.

use std::time::Duration;

use crate::overload::{OverloadReport, Run, PERIODS_PER_T};
use crate::report::Report;
use crate::role::Role;
use crate::traffic::{Design, Sweep, TrafficReport, Workload};

/// The quick requests' p99 a rate must keep under, in the "under traffic" row.
const QUICK_MS: f64 = 100.0;

/// The design of `load` and `overload` a column's server runs, if it runs one.
fn design(role: Role) -> Option<Design> {
    let column = super::rows::DESIGNS.iter().find(|(r, _)| *r == role);
    column.map(|(_, design)| *design)
}

/// A row: its question, and a cell per column of `roles`.
pub struct Row {
    pub question: &'static str,
    pub cells: Vec<String>,
}

pub fn rows(report: &Report, roles: &[Role]) -> Vec<Row> {
    let cells = |fill: &dyn Fn(Design) -> String, missing: &str| {
        roles
            .iter()
            .map(|&role| match design(role) {
                Some(design) => fill(design),
                None => format!("— ({missing})"),
            })
            .collect()
    };
    let under = match &report.traffic {
        Some(traffic) => cells(&|design| under_traffic(traffic, design), "not swept"),
        None => cells(
            &|_| "— (with `load` in the same run)".to_owned(),
            "not swept",
        ),
    };
    let over = match &report.overload {
        Some(overload) => cells(&|design| past_capacity(overload, design), "not run"),
        None => cells(
            &|_| "— (with `overload` in the same run)".to_owned(),
            "not run",
        ),
    };
    vec![
        Row {
            question: "traffic: 10% on a 50 ms timer, open loop (the highest rate swept with quick p99 under 100 ms)",
            cells: under,
        },
        Row {
            question: "more traffic than it can serve: twice its capacity for T (answered in time; back to normal after the drop)",
            cells: over,
        },
    ]
}

fn under_traffic(traffic: &TrafficReport, design: Design) -> String {
    let Some(sweep) = timer_sweep(traffic, design) else {
        return "— (the timer workload not swept)".to_owned();
    };
    let (measured, predicted) = sweep.highest_under(QUICK_MS);
    format!(
        "{} (model {}); capacity {:.0}/s",
        highest(sweep, measured),
        highest(sweep, predicted),
        sweep.capacity
    )
}

fn timer_sweep(traffic: &TrafficReport, design: Design) -> Option<&Sweep> {
    let mut sweeps = traffic.sweeps.iter();
    sweeps.find(|s| s.workload == Workload::Timer && s.design == design)
}

/// The highest rate of `sweep` under the bound, said against the rates it was sent.
fn highest(sweep: &Sweep, rate: Option<f64>) -> String {
    let first = sweep.steps.first().map_or(0.0, |s| s.rate);
    let last = sweep.steps.last().map_or(0.0, |s| s.rate);
    match rate {
        None => format!("under {first:.0}/s (the least sent)"),
        Some(rate) if rate >= last => format!("at least {rate:.0}/s (the most sent)"),
        Some(rate) => format!("{rate:.0}/s"),
    }
}

fn past_capacity(overload: &OverloadReport, design: Design) -> String {
    let tick = overload.settings.period / PERIODS_PER_T;
    let one = |run: &Run| {
        let (goodput, goodput_model) = run.goodput_in_overload();
        let (back, back_model) = run.recovery(tick);
        format!(
            "{goodput:.0}/s of {:.0}, back {} (model {goodput_model:.0}/s, {})",
            run.rates[1],
            after(back),
            after(back_model)
        )
    };
    let runs: Vec<&Run> = overload
        .runs
        .iter()
        .filter(|r| r.case.design == design)
        .collect();
    let mut text = Vec::new();
    for run in runs {
        let label = match (run.case.sheds, design.is_seed()) {
            (false, _) => "no deadline".to_owned(),
            (true, false) => format!("deadline {} ms", overload.settings.deadline().as_millis()),
            (true, true) => format!("--limit-concurrency {}", probe::seed::LIMIT_CONCURRENCY),
        };
        text.push(format!("{label}: {}", one(run)));
    }
    if text.is_empty() {
        "— (not run)".to_owned()
    } else {
        text.join("; ")
    }
}

fn after(back: Option<Duration>) -> String {
    back.map_or("not by the end".to_owned(), |d| {
        format!("in {:.1} s", d.as_secs_f64())
    })
}

/// The advice for the two rows, from the same figures: what a person should take away.
pub fn advice(report: &Report) -> Vec<(String, &'static str)> {
    let mut said = Vec::new();
    if let Some(traffic) = &report.traffic {
        let highest = |design| match timer_sweep(traffic, design) {
            Some(sweep) => highest(sweep, sweep.highest_under(QUICK_MS).0),
            None => "— (not swept)".to_owned(),
        };
        said.push((
            format!(
                "With a tenth of the requests on a 50 ms timer, the highest rate whose quick p99 \
                 stayed under 100 ms was {} on one thread, {} on four and {} on the event loop.",
                highest(Design::OneThread),
                highest(Design::FourThreads),
                highest(Design::EventLoop)
            ),
            "A thread held by a wait is capacity gone: a design serves about its threads divided \
             by the time each request holds one, and an event loop holds its thread only for the \
             CPU. The model predicts the knee from that before the run (load.md).",
        ));
    }
    if let Some(overload) = &report.overload {
        let goodput = |design, sheds| {
            let run = overload
                .runs
                .iter()
                .find(|r| r.case.design == design && r.case.sheds == sheds);
            run.map_or("—".to_owned(), |r| {
                format!("{:.0}/s", r.goodput_in_overload().0)
            })
        };
        said.push((
            format!(
                "At twice its capacity one thread answered {} in time without a deadline and {} \
                 with one; the event loop with the CPU work on it, where nothing can be shed, {}.",
                goodput(Design::OneThread, false),
                goodput(Design::OneThread, true),
                goodput(Design::EventLoop, false)
            ),
            "Past capacity, a queue without a deadline answers late or after the client has gone, \
             and takes time to drain once the load drops; a deadline turns the excess into quick \
             503s and keeps the rest quick. Only a queue the server holds can have one: work \
             waiting in the kernel behind a busy event loop cannot (overload.md).",
        ));
    }
    said
}
