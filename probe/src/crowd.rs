//! A crowd of waiting requests: N connections at once, each asking `/sleep?seconds=S` (or another
//! waiting route), from one thread (a tokio `current_thread` runtime, so that the client is not
//! the thing that runs out of threads); and meanwhile `/nosleep` asked again and again, one at a time, to time what a
//! sleeping crowd does to a quick request. Used by `compare scale` and the benchmark runner.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Measured {
    pub requests: usize,
    pub answered: usize,
    pub wall_s: f64,
    pub latency_p50_s: f64,
    pub latency_p99_s: f64,
    pub latency_max_s: f64,
    /// The answered requests' latencies at every tenth: the 0th (fastest), 10th, ... 100th
    /// (slowest) percentile.
    pub latency_deciles_s: Vec<f64>,
    /// How many distinct threads answered the sleeps (their `X-Tid`s).
    pub handler_threads: usize,
    /// `/nosleep` asked one after another while the sleeps were in flight.
    pub nosleep_count: usize,
    pub nosleep_p99_ms: f64,
    /// Of those, how many got no answer within 5 s (the probe stops at the first).
    pub nosleep_unanswered: usize,
}

/// Runs the client against `addr`, each request asking `route?seconds=S` (`/sleep`, say, or
/// `/fetch`), and returns what it measured.
pub fn run(addr: SocketAddr, count: usize, route: &str, seconds: f64) -> Measured {
    let target = format!("{route}?seconds={seconds}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let patience = Duration::from_secs_f64(seconds * count as f64 + 30.0);
        let started = Instant::now();
        let sleeps: Vec<_> = (0..count)
            .map(|_| tokio::spawn(exchange(addr, target.clone(), patience)))
            .collect();
        // While they sleep: one /nosleep at a time, until the sleeps are due.
        let (mut quick, mut unanswered) = (Vec::new(), 0);
        let until = started + Duration::from_secs_f64(seconds * 0.9);
        while Instant::now() < until {
            match exchange(addr, "/nosleep".to_owned(), Duration::from_secs(5)).await {
                Some((latency, _)) => quick.push(latency),
                None => {
                    unanswered += 1;
                    break;
                }
            }
        }
        let (mut latencies, mut tids) = (Vec::new(), std::collections::BTreeSet::new());
        for sleep in sleeps {
            if let Ok(Some((latency, tid))) = sleep.await {
                latencies.push(latency);
                tids.extend(tid);
            }
        }
        let wall = started.elapsed().as_secs_f64();
        latencies.sort();
        quick.sort();
        Measured {
            requests: count,
            answered: latencies.len(),
            wall_s: wall,
            latency_p50_s: percentile(&latencies, 0.50).as_secs_f64(),
            latency_p99_s: percentile(&latencies, 0.99).as_secs_f64(),
            latency_max_s: latencies.last().copied().unwrap_or_default().as_secs_f64(),
            latency_deciles_s: (0..=10)
                .map(|tenth| percentile(&latencies, f64::from(tenth) / 10.0).as_secs_f64())
                .collect(),
            handler_threads: tids.len(),
            nosleep_count: quick.len() + unanswered,
            nosleep_unanswered: unanswered,
            nosleep_p99_ms: percentile(&quick, 0.99).as_secs_f64() * 1000.0,
        }
    })
}

/// One request on its own connection; its latency and the `X-Tid` of its answer, if it got a
/// `200`.
async fn exchange(
    addr: SocketAddr,
    target: String,
    patience: Duration,
) -> Option<(Duration, Option<u64>)> {
    let attempt = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        let request = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let sent = Instant::now();
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        let latency = sent.elapsed();
        let text = String::from_utf8_lossy(&answer);
        let tid = text.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("x-tid")
                .then(|| value.trim().parse().ok())?
        });
        answer
            .starts_with(b"HTTP/1.1 200")
            .then_some((latency, tid))
    };
    tokio::time::timeout(patience, attempt).await.ok().flatten()
}

/// The `share` percentile of `sorted` (0: the smallest, 1: the largest).
fn percentile(sorted: &[Duration], share: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 * share).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_read_from_the_sorted_latencies() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 0.0), Duration::from_millis(1));
        assert_eq!(percentile(&sorted, 0.5), Duration::from_millis(50));
        assert_eq!(percentile(&sorted, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&sorted, 1.0), Duration::from_millis(100));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }
}
