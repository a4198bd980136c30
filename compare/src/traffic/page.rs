//! `load`'s figures as a person reads them: a table per sweep, printed as it ends, and
//! `docs/load.md`, with a few sentences composed from the same figures.

use std::fmt::Write as _;

use super::{Design, Sweep, TrafficReport, Workload, HELD_BELOW, KNEE_FACTOR, WITHIN};

/// How each figure was measured, said once on the page and after the run.
pub const METHOD: &str = "Open loop: each step's arrivals are drawn before it runs (Poisson, at \
    the offered rate, 90% /nosleep and 10% of the workload's wait), each request is sent on a new \
    connection when it is due, whatever the others are doing, by one tokio current_thread client \
    in compare's process, and timed from when it was due. Each step runs on a freshly started \
    server, after a warm-up that is not counted. The model is fed the very same arrivals: each \
    design as FCFS stations (load/src/model.rs; the mapping in compare/src/traffic/designs.rs), \
    with each class's cost on the design's own threads measured on the unloaded server first. A step holds when each \
    class's p99 is within 15% of the model's, plus the unloaded p99; steps at a predicted load of \
    0.8 or more are shown, not judged.";

/// A latency in ms, to three significant figures or so.
pub(crate) fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn rate(value: Option<f64>) -> String {
    value.map_or("no rate swept".to_owned(), |r| format!("{r:.0}/s"))
}

/// One sweep as a table: a row per step.
pub fn sweep_text(sweep: &Sweep) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "load: {} on {}: unloaded, a quick request takes {:.3} ms of the server's own threads \
         and {:.3} ms elsewhere (p99 {:.3} ms), a waiting one {:.3} ms there; predicted knee \
         {:.0}/s",
        sweep.workload_label(),
        sweep.design.label(),
        sweep.cost.quick.as_secs_f64() * 1000.0,
        sweep.cost.elsewhere.as_secs_f64() * 1000.0,
        sweep.unloaded_p99_ms,
        sweep.cost.waiting.as_secs_f64() * 1000.0,
        sweep.capacity
    );
    out += &table(sweep);
    let (measured, predicted) = sweep.knees();
    let _ = writeln!(
        out,
        "quick p99 over {KNEE_FACTOR}× unloaded first at: measured {}, model {}",
        rate(measured),
        rate(predicted)
    );
    out
}

fn table(sweep: &Sweep) -> String {
    let mut out = String::new();
    out += "| offered /s | load | answered /s | quick p50 ms | quick p99 ms | quick p99.9 ms | wait p99 ms | failures | lateness p99 ms | threads | RSS MiB | verdict |\n";
    out += "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
    for step in &sweep.steps {
        let (quick, wait) = (&step.classes[0], &step.classes[1]);
        let pair = |m: f64, p: f64| format!("{} ({})", ms(m), ms(p));
        let verdict = if !step.kept_up {
            "the client fell behind"
        } else if step.load >= HELD_BELOW {
            "past 0.8: shown"
        } else if sweep.holds(step) {
            "holds"
        } else {
            "does not hold"
        };
        let _ = writeln!(
            out,
            "| {:.0} | {:.2} | {:.0} | {} | {} | {} | {} | {} | {:.3} | {} | {:.0} | {verdict} |",
            step.offered,
            step.load,
            step.achieved,
            pair(quick.measured.p50, quick.predicted.p50),
            pair(quick.measured.p99, quick.predicted.p99),
            pair(quick.measured.p999, quick.predicted.p999),
            pair(wait.measured.p99, wait.predicted.p99),
            step.failures,
            step.lateness_p99_ms,
            step.peak_threads,
            step.peak_rss_kib as f64 / 1024.0,
        );
    }
    out
}

/// `docs/load.md`: every sweep's table, grouped by workload, and what they say.
pub fn page(report: &TrafficReport, command: &str, machine: &str) -> String {
    let mut out = String::new();
    out += "# Under traffic: each design's latency, measured open loop and predicted\n\n";
    let _ = writeln!(
        out,
        "Written by `{command}` on {machine}, {} s a step. Each cell is measured, with the \
         model's prediction from the same arrivals in brackets. [load.svg](load.svg) draws the \
         quick requests' p99 against the offered rate.\n",
        report.duration.as_secs_f64()
    );
    let _ = writeln!(out, "{METHOD}\n");
    for workload in Workload::ALL {
        let sweeps: Vec<&Sweep> = report
            .sweeps
            .iter()
            .filter(|s| s.workload == workload)
            .collect();
        if sweeps.is_empty() {
            continue;
        }
        let heading = sweeps[0].workload_label();
        let _ = writeln!(out, "## 10% of the traffic waits on {heading}\n");
        for sweep in &sweeps {
            let (measured, predicted) = sweep.knees();
            let _ = writeln!(
                out,
                "**{}**: unloaded, a quick request takes {:.3} ms of the server's own threads \
                 and {:.3} ms elsewhere (p99 {:.3} ms), a waiting one {:.3} ms there; the \
                 model's capacity, its knee, is {:.0}/s. Quick p99 first over {KNEE_FACTOR}× \
                 unloaded, measured: {}; in the model: {}.\n",
                sweep.design.label(),
                sweep.cost.quick.as_secs_f64() * 1000.0,
                sweep.cost.elsewhere.as_secs_f64() * 1000.0,
                sweep.unloaded_p99_ms,
                sweep.cost.waiting.as_secs_f64() * 1000.0,
                sweep.capacity,
                rate(measured),
                rate(predicted),
            );
            out += &table(sweep);
            out += "\n";
        }
        out += &sentences(&sweeps);
    }
    if !report.skipped.is_empty() {
        out += "## Not run\n\n";
        for line in &report.skipped {
            let _ = writeln!(out, "- {line}");
        }
        out += "\n";
    }
    out += &verdicts(report);
    out
}

/// What the workload's sweeps say, in a few sentences from their figures.
fn sentences(sweeps: &[&Sweep]) -> String {
    let mut out = String::new();
    let under = |s: &Sweep| s.highest_under(100.0).0;
    let rates: Vec<String> = sweeps
        .iter()
        .map(|s| format!("{} {}", s.design.label(), rate(under(s))))
        .collect();
    let _ = write!(
        out,
        "The highest offered rate with quick p99 under 100 ms: {}",
        rates.join(", ")
    );
    let capped = sweeps
        .iter()
        .filter(|s| under(s).is_some_and(|r| r >= super::MAX_RATE * 0.95));
    let capped: Vec<&str> = capped.map(|s| s.design.label()).collect();
    if !capped.is_empty() {
        let _ = write!(
            out,
            " ({} reached the {:.0}/s this run offers at most, still under 100 ms)",
            capped.join(" and "),
            super::MAX_RATE
        );
    }
    out += ".\n\n";
    let one = sweeps.iter().find(|s| s.design == Design::OneThread);
    let event_loop = sweeps.iter().find(|s| s.design == Design::EventLoop);
    if let (Some(one), Some(event_loop)) = (one, event_loop) {
        let times = event_loop.capacity / one.capacity;
        let why = if times >= 1.5 {
            format!(
                "{times:.0} times as far: the loop is held only for a request's own CPU, the \
                 thread for its whole wait"
            )
        } else {
            "about as far: CPU work holds the loop just as it holds a thread".to_owned()
        };
        let _ = writeln!(
            out,
            "One thread's knee is predicted at {:.0}/s and the event loop's at {:.0}/s, {why}.\n",
            one.capacity, event_loop.capacity
        );
    }
    out
}

/// How many steps held, and where the model and the measurement differ most.
fn verdicts(report: &TrafficReport) -> String {
    let judged: Vec<(&Sweep, &super::Step)> = report
        .sweeps
        .iter()
        .flat_map(|s| s.steps.iter().map(move |step| (s, step)))
        .filter(|(_, step)| step.load < HELD_BELOW && step.kept_up)
        .collect();
    let held = judged.iter().filter(|(s, step)| s.holds(step)).count();
    let mut out = format!(
        "## Against the model\n\nBelow a predicted load of {HELD_BELOW}, {held} of {} steps hold \
         (every class's p99 within {:.0}% of the model's, plus the unloaded p99).",
        judged.len(),
        WITHIN * 100.0
    );
    let worst = judged.iter().max_by(|a, b| {
        let off = |(_, step): &&(&Sweep, &super::Step)| {
            step.classes
                .iter()
                .map(|c| (c.measured.p99 - c.predicted.p99).abs() / c.predicted.p99.max(1e-3))
                .fold(0.0, f64::max)
        };
        off(a).total_cmp(&off(b))
    });
    if let Some((sweep, step)) = worst {
        let _ = write!(
            out,
            " The furthest apart: {} on {} at {:.0}/s, quick p99 {} ms measured against {} ms \
             predicted, waiting p99 {} against {}.",
            sweep.workload_label(),
            sweep.design.label(),
            step.rate,
            ms(step.classes[0].measured.p99),
            ms(step.classes[0].predicted.p99),
            ms(step.classes[1].measured.p99),
            ms(step.classes[1].predicted.p99),
        );
    }
    out + "\n"
}
