//! What one more hop costs: `/fetch?seconds=0` throughput of sync-server `--threads P` and
//! async-server against the upstream's own `/sleep?seconds=0` rate, in one run, as ratios. The
//! upstream (an async-server) alone is the floor: a `/fetch` is a `/sleep` answered by it, and
//! a request and an answer more on each side.

use std::path::Path;

use anyhow::bail;
use serde::Serialize;

use crate::launch::Launch;

/// sync-server's handler threads: one per wrk connection, so that no request waits for a thread
/// and each server is held only by its own work and the upstream's.
pub const THREADS: u32 = 64;

/// One row: the upstream's rate, or a server's through it.
#[derive(Serialize)]
pub struct Row {
    pub name: String,
    pub per_second: f64,
    /// Of the upstream's own rate, measured in the same run.
    pub of_upstream: f64,
}

pub fn method(seconds: u32) -> String {
    format!(
        "the upstream is an async-server (--warn-blocked 0) pinned to core 0; wrk -t1 -c64 \
         -d{seconds}s from core 1 on its /sleep?seconds=0 gives the floor; then each server, \
         pinned to core 0 beside the upstream with --upstream, gets the same wrk on \
         /fetch?seconds=0, each request one call to the upstream on a kept connection (so the \
         server and the upstream share one core, as a service and its sidecar would); the \
         upstream's /sleep?seconds=0 goes through tokio's timer, which rounds up to its next \
         millisecond"
    )
}

/// Measures the upstream alone, then each server through it.
pub fn measure(bin: &Path, logs: &Path, seconds: u32, cores: usize) -> anyhow::Result<Vec<Row>> {
    let upstream = Launch::ours(bin, "async-server --warn-blocked 0");
    let floor = rate(
        &upstream,
        logs,
        "upstream-alone",
        "/sleep?seconds=0",
        seconds,
        cores,
    )?;
    // Another one, kept running for the servers to call.
    let (_running, url) = upstream.start(&logs.join("upstream.log"), cores);
    let mut rows = vec![Row {
        name: "the upstream alone (/sleep?seconds=0)".to_owned(),
        per_second: floor,
        of_upstream: 1.0,
    }];
    let servers = [
        ("sync-server", format!("--threads {THREADS} ")),
        ("async-server", String::new()),
    ];
    for (binary, flags) in servers {
        let name = format!("{binary} {flags}/fetch?seconds=0");
        let launch = Launch::ours_with(bin, binary, &format!("{flags}--upstream {url}"));
        let per_second = rate(&launch, logs, binary, "/fetch?seconds=0", seconds, cores)?;
        rows.push(Row {
            name,
            per_second,
            of_upstream: per_second / floor,
        });
    }
    Ok(rows)
}

fn rate(
    launch: &Launch,
    logs: &Path,
    name: &str,
    path: &str,
    seconds: u32,
    cores: usize,
) -> anyhow::Result<f64> {
    let log = logs.join(format!("{name}-fetch.log"));
    let run = crate::throughput::measure(launch, &log, path, seconds, cores);
    if run.rps <= 0.0 {
        bail!("{name} answered no {path}");
    }
    Ok(run.rps)
}

/// The table, with its method.
pub fn markdown(rows: &[Row], method: &str) -> String {
    let mut table = String::from(
        "| one hop more | per second | of the upstream's own |\n| --- | --- | --- |\n",
    );
    for row in rows {
        table += &format!(
            "| {} | {:.0} | {:.2} |\n",
            row.name, row.per_second, row.of_upstream
        );
    }
    table + &format!("\nMethod: {method}.\n\n")
}
