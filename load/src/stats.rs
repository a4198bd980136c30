//! What a run measured: per class, latency percentiles from an HDR histogram (every request
//! counted, from when it was due), answers by status and failures by kind; and the client's own
//! lateness, which says whether the figures are the server's at all.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::client::{Failure, Outcome};
use crate::mix::Mix;

/// The most a request may start after it was due, at the 99th percentile, for the run's
/// latencies to be the server's: past it, the client could not keep up.
pub const LATENESS_BOUND: Duration = Duration::from_millis(1);

/// Percentiles of a set of durations, in milliseconds (and named so in the JSON: `p99_ms`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Percentiles {
    pub count: u64,
    #[serde(rename = "p50_ms")]
    pub p50: f64,
    #[serde(rename = "p90_ms")]
    pub p90: f64,
    #[serde(rename = "p99_ms")]
    pub p99: f64,
    #[serde(rename = "p999_ms")]
    pub p999: f64,
    #[serde(rename = "max_ms")]
    pub max: f64,
}

impl Percentiles {
    /// From `durations`, through an HDR histogram of microseconds from 1 µs to an hour (3
    /// significant figures; a longer one counts as an hour).
    pub fn of(durations: impl IntoIterator<Item = Duration>) -> Percentiles {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)
            .expect("valid bounds and significant figures");
        for duration in durations {
            let micros = u64::try_from(duration.as_micros())
                .unwrap_or(u64::MAX)
                .max(1);
            histogram.saturating_record(micros);
        }
        let ms = |quantile: f64| histogram.value_at_quantile(quantile) as f64 / 1000.0;
        Percentiles {
            count: histogram.len(),
            p50: ms(0.5),
            p90: ms(0.9),
            p99: ms(0.99),
            p999: ms(0.999),
            max: histogram.max() as f64 / 1000.0,
        }
    }
}

/// One class's figures.
#[derive(Clone, Debug, Serialize)]
pub struct ClassStats {
    pub path: String,
    pub sent: usize,
    /// Latency of every request that got an answer, whatever its status, from when it was due.
    pub latency: Percentiles,
    /// Answers by status.
    pub statuses: BTreeMap<u16, usize>,
    /// Requests with no answer, by what happened.
    pub failures: BTreeMap<&'static str, usize>,
}

/// A run's figures.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Requests due per second, and answers received per second, over the run.
    pub offered: f64,
    pub achieved: f64,
    /// How late the client sent each request after it was due.
    pub lateness: Percentiles,
    /// Whether the lateness p99 is within [`LATENESS_BOUND`]: if not, the latencies are not the
    /// server's alone.
    pub kept_up: bool,
    pub classes: Vec<ClassStats>,
}

impl Summary {
    pub fn of(outcomes: &[Outcome], mix: &Mix, duration: Duration) -> Summary {
        let seconds = duration.as_secs_f64();
        let lateness = Percentiles::of(outcomes.iter().filter_map(|o| Some(o.sent? - o.due)));
        let classes = mix
            .0
            .iter()
            .enumerate()
            .map(|(class, c)| {
                let mine: Vec<&Outcome> = outcomes.iter().filter(|o| o.class == class).collect();
                let mut statuses = BTreeMap::new();
                let mut failures = BTreeMap::new();
                for outcome in &mine {
                    match outcome.result {
                        Ok(status) => *statuses.entry(status).or_insert(0) += 1,
                        Err(failure) => *failures.entry(failure.name()).or_insert(0) += 1,
                    }
                }
                let answered = mine.iter().filter(|o| o.result.is_ok());
                ClassStats {
                    path: c.path.clone(),
                    sent: mine.len(),
                    latency: Percentiles::of(answered.map(|o| o.done - o.due)),
                    statuses,
                    failures,
                }
            })
            .collect();
        let answered = outcomes.iter().filter(|o| o.result.is_ok()).count();
        Summary {
            offered: outcomes.len() as f64 / seconds,
            achieved: answered as f64 / seconds,
            kept_up: lateness.p99 <= LATENESS_BOUND.as_secs_f64() * 1000.0,
            lateness,
            classes,
        }
    }

    /// The figures as a person reads them.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "offered {:.1}/s, answered {:.1}/s; the client's lateness (sent minus due): p50 {:.3} ms, \
             p99 {:.3} ms, max {:.3} ms",
            self.offered, self.achieved, self.lateness.p50, self.lateness.p99, self.lateness.max
        );
        if !self.kept_up {
            let _ = writeln!(
                out,
                "the client could not keep up (lateness p99 over {} ms): the latencies would be \
                 the client's as much as the server's, so none is reported",
                LATENESS_BOUND.as_millis()
            );
        }
        let _ = writeln!(
            out,
            "{:<28} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}  answers and failures",
            "class", "sent", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"
        );
        for class in &self.classes {
            let l = &class.latency;
            let figures = if self.kept_up && l.count > 0 {
                format!(
                    "{:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                    l.p50, l.p90, l.p99, l.p999, l.max
                )
            } else {
                format!("{:>9} {:>9} {:>9} {:>9} {:>9}", "-", "-", "-", "-", "-")
            };
            let answers = class.statuses.iter().map(|(s, n)| format!("{n}×{s}"));
            let failures = class.failures.iter().map(|(f, n)| format!("{n} {f}"));
            let outcomes: Vec<String> = answers.chain(failures).collect();
            let _ = writeln!(
                out,
                "{:<28} {:>7} {figures}  {}",
                class.path,
                class.sent,
                outcomes.join(", ")
            );
        }
        out
    }
}

impl Failure {
    /// How a failure is counted.
    pub fn name(self) -> &'static str {
        match self {
            Failure::Refused => "refused",
            Failure::Reset => "reset",
            Failure::TimedOut => "timed out",
            Failure::Closed => "closed without an answer",
            Failure::Malformed => "not an HTTP answer",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn percentiles_come_from_every_value() {
        let p = Percentiles::of((1..=1000).map(|n| MS * n));
        assert_eq!(p.count, 1000);
        assert!((p.p50 - 500.0).abs() < 1.0, "{}", p.p50);
        assert!((p.p99 - 990.0).abs() < 1.0, "{}", p.p99);
        assert!((p.max - 1000.0).abs() < 1.0, "{}", p.max);
    }

    #[test]
    fn a_late_client_reports_no_latency() {
        let mix = Mix::parse("/a").unwrap();
        let outcome = |late: Duration| Outcome {
            due: MS * 10,
            sent: Some(MS * 10 + late),
            done: MS * 20,
            class: 0,
            retry: 0,
            result: Ok(200),
        };
        let on_time = Summary::of(&vec![outcome(MS / 10); 100], &mix, Duration::from_secs(1));
        assert!(on_time.kept_up && !on_time.text().contains("could not keep up"));
        assert!(on_time.text().contains("10.0"), "{}", on_time.text());
        let late = Summary::of(&vec![outcome(MS * 3); 100], &mix, Duration::from_secs(1));
        assert!(!late.kept_up && late.text().contains("could not keep up"));
        assert!(!late.text().contains("10.0"), "{}", late.text());
    }
}
