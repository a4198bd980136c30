//! What `/query` costs beside the database alone: `/query?seconds=0` throughput of sync-server
//! `--threads P` and async-server `--db-pool P` against `pgbench -M prepared -c P` running the
//! same statement on the same throwaway cluster, in one run, as ratios. pgbench's rate is the
//! floor: what the database does at P connections with nothing in front of it.

use std::fs;
use std::path::Path;

use anyhow::{bail, Context};
use pgcluster::Cluster;
use serde::Serialize;

use crate::launch::{pinned, Launch};

/// The connections on each side: pgbench's clients, sync-server's threads, async-server's pool.
pub const CONNECTIONS: u32 = 4;

/// The statement both run: the one `/query` prepares.
const STATEMENT: &str = "SELECT pg_backend_pid() FROM pg_sleep(0);\n";

/// One row: a server's rate, or pgbench's.
#[derive(Serialize)]
pub struct Row {
    pub name: String,
    pub per_second: f64,
    /// Of pgbench's rate, measured in the same run.
    pub of_pgbench: f64,
}

pub fn method(seconds: u32) -> String {
    format!(
        "one throwaway PostgreSQL cluster (pgcluster); pgbench -n -M prepared -c {CONNECTIONS} -j 1 \
         -T {seconds} running {:?} gives the floor in transactions per second; each \
         server, pinned to core 0 with --database, gets wrk -t1 -c64 -d{seconds}s on \
         /query?seconds=0 from core 1; the database runs unpinned",
        STATEMENT.trim_end()
    )
}

/// Measures pgbench, then each server, on one cluster.
pub fn measure(bin: &Path, logs: &Path, seconds: u32, cores: usize) -> anyhow::Result<Vec<Row>> {
    let cluster = Cluster::start(100).context("cannot start a throwaway database")?;
    let url = cluster.url();
    let floor = pgbench(&url, logs, seconds, cores)?;
    let mut rows = vec![Row {
        name: format!("pgbench -M prepared -c {CONNECTIONS}"),
        per_second: floor,
        of_pgbench: 1.0,
    }];
    let servers = [
        ("sync-server", format!("--threads {CONNECTIONS}")),
        ("async-server", format!("--db-pool {CONNECTIONS}")),
    ];
    for (binary, flags) in servers {
        let name = format!("{binary} {flags}");
        let args = format!("{flags} --database {url}");
        let launch = Launch::ours_with(bin, binary, &args);
        let log = logs.join(format!("{binary}-query.log"));
        let run = crate::throughput::measure(&launch, &log, "/query?seconds=0", seconds, cores);
        if run.rps <= 0.0 {
            bail!("{name} answered no /query");
        }
        rows.push(Row {
            name,
            per_second: run.rps,
            of_pgbench: run.rps / floor,
        });
    }
    Ok(rows)
}

/// pgbench's transactions per second on `url` (without the initial connection time), pinned
/// to core 1 as wrk is.
fn pgbench(url: &str, logs: &Path, seconds: u32, cores: usize) -> anyhow::Result<f64> {
    let script = logs.join("query.sql");
    fs::write(&script, STATEMENT).with_context(|| format!("cannot write {}", script.display()))?;
    let program = pgcluster::bin_dir()?.join("pgbench");
    let output = pinned(&program, 1, cores)
        .args(["-n", "-M", "prepared", "-j", "1"])
        .args(["-c", &CONNECTIONS.to_string(), "-T", &seconds.to_string()])
        .arg("-f")
        .arg(&script)
        .arg(url)
        .output()
        .context("cannot run pgbench")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let tps = text
        .lines()
        .find_map(|line| line.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok());
    match tps {
        Some(tps) => Ok(tps),
        None => bail!(
            "pgbench printed no tps: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// The table, with its method.
pub fn markdown(rows: &[Row], method: &str) -> String {
    let mut table =
        String::from("| /query?seconds=0 | per second | of pgbench's |\n| --- | --- | --- |\n");
    for row in rows {
        table += &format!(
            "| {} | {:.0} | {:.2} |\n",
            row.name, row.per_second, row.of_pgbench
        );
    }
    table + &format!("\nMethod: {method}.\n\n")
}
