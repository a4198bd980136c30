//! `overload`'s figures per tenth of T: each request, measured or predicted, counted in the
//! period it was due in; what the server held in each; and the recovery read from them.

use std::time::Duration;

use load::client::{Failure, Outcome};
use load::model::{Attempt, Fate};
use load::stats::Percentiles;

use super::{Held, Period, Settings, PERIODS_PER_T};
use crate::held::Sample;

/// How one request ended, measured or predicted, for the periods' figures.
pub(super) struct Seen {
    due: Duration,
    latency: Duration,
    quick: bool,
    end: End,
}

#[derive(PartialEq)]
enum End {
    Answered,
    Shed,
    GaveUp,
    Failed,
}

impl Seen {
    pub(super) fn measured(outcome: &Outcome) -> Seen {
        Seen {
            due: outcome.due,
            latency: outcome.done.saturating_sub(outcome.due),
            quick: outcome.class == 0,
            end: match outcome.result {
                Ok(200) => End::Answered,
                Ok(503) => End::Shed,
                Err(Failure::TimedOut) => End::GaveUp,
                _ => End::Failed,
            },
        }
    }

    pub(super) fn predicted(attempt: &Attempt) -> Seen {
        Seen {
            due: attempt.due,
            latency: attempt.latency(),
            quick: attempt.class == 0,
            end: match attempt.fate {
                Fate::Answered => End::Answered,
                Fate::Shed => End::Shed,
                Fate::GaveUp => End::GaveUp,
            },
        }
    }
}

/// The run's figures per tenth of T, by when each request was due.
pub(super) fn of(seen: &[Seen], settings: &Settings) -> Vec<Period> {
    let tick = settings.tick();
    let count = 4 * PERIODS_PER_T as usize;
    let per_second = 1.0 / tick.as_secs_f64();
    (0..count)
        .map(|at| {
            let (from, to) = (tick * at as u32, tick * (at as u32 + 1));
            let mine: Vec<&Seen> = seen
                .iter()
                .filter(|s| s.due >= from && s.due < to)
                .collect();
            let rate = |end: End| mine.iter().filter(|s| s.end == end).count() as f64 * per_second;
            let quick = mine
                .iter()
                .filter(|s| s.quick && matches!(s.end, End::Answered | End::GaveUp));
            let quick = Percentiles::of(quick.map(|s| s.latency));
            Period {
                offered: mine.len() as f64 * per_second,
                goodput: rate(End::Answered),
                shed: rate(End::Shed),
                timed_out: rate(End::GaveUp),
                failed: rate(End::Failed),
                quick_p99_ms: (quick.count > 0).then_some(quick.p99),
            }
        })
        .collect()
}

/// The peak threads and RSS (KiB) read in each period.
pub(super) fn held(samples: &[Sample], settings: &Settings) -> Vec<Held> {
    let tick = settings.tick();
    (0..4 * PERIODS_PER_T)
        .map(|at| {
            let (from, to) = (tick * at, tick * (at + 1));
            let mine = samples.iter().filter(|s| s.at >= from && s.at < to);
            mine.fold(Held::default(), |most, s| Held {
                threads: most.threads.max(s.threads),
                rss_kib: most.rss_kib.max(s.rss_kib),
            })
        })
        .collect()
}

/// From the load's drop to the end of the first period whose quick p99 is back within 2× of
/// the first phase's median period (`None`: not by the end of the run).
pub(super) fn recovery(periods: &[Period], tick: Duration) -> Option<Duration> {
    let per_t = PERIODS_PER_T as usize;
    // The first phase's typical period (its median), the first period, a warm-up, left out.
    let mut before: Vec<f64> = periods[1..per_t]
        .iter()
        .filter_map(|p| p.quick_p99_ms)
        .collect();
    before.sort_by(f64::total_cmp);
    let baseline = *before.get(before.len() / 2)?;
    let back = periods[2 * per_t..]
        .iter()
        .position(|p| p.quick_p99_ms.is_some_and(|p99| p99 <= 2.0 * baseline))?;
    Some(tick * (back as u32 + 1))
}
