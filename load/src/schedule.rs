//! The arrival schedule, drawn whole before the run: when each request is due, and which class it
//! is. Drawn from a seed, so a run can be repeated, and handed as it is to the model
//! ([`crate::model`]), so that each measured latency has a predicted twin.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::mix::Mix;

/// How the requests are spaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Arrivals {
    /// Independent arrivals at the rate: exponential gaps, as from many independent clients.
    Poisson,
    /// Evenly spaced, 1/rate apart.
    Even,
}

/// One request of the schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Due {
    /// From the start of the run.
    pub at: Duration,
    /// Its class, an index into the mix.
    pub class: usize,
}

/// Draws the requests due in `duration` at `rate` per second.
pub fn draw(rate: f64, duration: Duration, arrivals: Arrivals, mix: &Mix, seed: u64) -> Vec<Due> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut schedule = Vec::with_capacity((rate * duration.as_secs_f64() * 1.1) as usize + 16);
    let mut at = 0.0;
    let end = duration.as_secs_f64();
    loop {
        let gap = match arrivals {
            // 1 - u is in (0, 1], so its logarithm is finite.
            Arrivals::Poisson => -(1.0 - rng.random::<f64>()).ln() / rate,
            Arrivals::Even => 1.0 / rate,
        };
        at += gap;
        if at >= end {
            return schedule;
        }
        let class = mix.pick(rng.random::<f64>());
        schedule.push(Due {
            at: Duration::from_secs_f64(at),
            class,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_arrivals_come_at_the_rate_with_exponential_gaps_and_repeat_from_a_seed() {
        let mix = Mix::parse("/a=9,/b=1").unwrap();
        let schedule = draw(1000.0, Duration::from_secs(100), Arrivals::Poisson, &mix, 7);
        let n = schedule.len() as f64;
        assert!((n - 100_000.0).abs() < 1500.0, "{n}");
        // Exponential gaps: their standard deviation equals their mean.
        let gaps: Vec<f64> = schedule
            .windows(2)
            .map(|w| (w[1].at - w[0].at).as_secs_f64())
            .collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        assert!(
            (var.sqrt() / mean - 1.0).abs() < 0.03,
            "{}",
            var.sqrt() / mean
        );
        let b = schedule.iter().filter(|d| d.class == 1).count() as f64;
        assert!((b / n - 0.1).abs() < 0.005, "{}", b / n);
        assert_eq!(
            schedule,
            draw(1000.0, Duration::from_secs(100), Arrivals::Poisson, &mix, 7)
        );
        assert_ne!(
            schedule,
            draw(1000.0, Duration::from_secs(100), Arrivals::Poisson, &mix, 8)
        );
    }

    #[test]
    fn even_arrivals_are_one_over_the_rate_apart() {
        let mix = Mix::parse("/a").unwrap();
        let schedule = draw(4.0, Duration::from_secs(1), Arrivals::Even, &mix, 1);
        let at: Vec<f64> = schedule.iter().map(|d| d.at.as_secs_f64()).collect();
        assert_eq!(at, vec![0.25, 0.5, 0.75]);
    }
}
