//! The fan-out client: N connections at once, each asking `/sleep?seconds=S`, on one thread; and
//! meanwhile `/nosleep` asked again and again, one at a time, to time what a sleeping crowd does
//! to a quick request. It prints its measurements as one JSON line.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Serialize, Deserialize)]
pub struct Measured {
    pub requests: usize,
    pub answered: usize,
    pub wall_s: f64,
    pub latency_p50_s: f64,
    pub latency_p99_s: f64,
    pub latency_max_s: f64,
    /// `/nosleep` asked one after another while the sleeps were in flight.
    pub nosleep_count: usize,
    pub nosleep_p99_ms: f64,
    /// Of those, how many got no answer within 5 s (the probe stops at the first).
    pub nosleep_unanswered: usize,
}

/// Runs the client against `addr` and returns what it measured.
pub fn run(addr: SocketAddr, count: usize, seconds: f64) -> Measured {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let patience = Duration::from_secs_f64(seconds * count as f64 + 30.0);
        let started = Instant::now();
        let sleeps: Vec<_> = (0..count)
            .map(|_| {
                tokio::spawn(exchange(
                    addr,
                    format!("/sleep?seconds={seconds}"),
                    patience,
                ))
            })
            .collect();
        // While they sleep: one /nosleep at a time, until the sleeps are due.
        let (mut quick, mut unanswered) = (Vec::new(), 0);
        let until = started + Duration::from_secs_f64(seconds * 0.9);
        while Instant::now() < until {
            match exchange(addr, "/nosleep".to_owned(), Duration::from_secs(5)).await {
                Some(latency) => quick.push(latency),
                None => {
                    unanswered += 1;
                    break;
                }
            }
        }
        let mut latencies = Vec::new();
        for sleep in sleeps {
            if let Ok(Some(latency)) = sleep.await {
                latencies.push(latency);
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
            nosleep_count: quick.len() + unanswered,
            nosleep_unanswered: unanswered,
            nosleep_p99_ms: percentile(&quick, 0.99).as_secs_f64() * 1000.0,
        }
    })
}

/// One request on its own connection; its latency if it got a `200`.
async fn exchange(addr: SocketAddr, target: String, patience: Duration) -> Option<Duration> {
    let attempt = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        let request = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let sent = Instant::now();
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        answer.starts_with(b"HTTP/1.1 200").then(|| sent.elapsed())
    };
    tokio::time::timeout(patience, attempt).await.ok().flatten()
}

fn percentile(sorted: &[Duration], share: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 * share).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}
