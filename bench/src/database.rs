//! What `/query` costs: `/query?seconds=0` throughput of sync-server `--threads P` and
//! async-server `--db-pool P`, each against its own floor, on one throwaway cluster in one run,
//! as ratios. A floor is the least server of its kind that runs the statement: tiny_http with P
//! threads each holding a `postgres` connection (`hello-tiny-http-postgres`), and hyper on one
//! `current_thread` runtime with a pool of P tokio-postgres connections
//! (`hello-hyper-postgres`), each with the statement prepared. The floors are read against
//! `pgbench -M prepared -c P` running the same statement: the database with nothing in front of
//! it. On two cores the HTTP hop and wrk share the machine with the database, so a server is
//! judged by its floor (target: 0.9 of it), not by pgbench. async-server is also read against
//! `hello-hyper-postgres --guarded`, the floor keeping the interface's promises that cost
//! something on every request (its timeouts, its log, its fields), so that what those cost and
//! what the rest of the server costs are read apart.

use std::fs;
use std::path::Path;

use anyhow::{bail, Context};
use pgcluster::Cluster;
use probe::process::MachineTime;
use serde::Serialize;

use crate::launch::{pinned, Launch};
use crate::throughput::median;

/// The connections on each side: pgbench's clients, sync-server's threads, async-server's pool.
pub const CONNECTIONS: u32 = 4;

/// The statement both run: the one `/query` prepares.
const STATEMENT: &str = "SELECT pg_backend_pid() FROM pg_sleep(0);\n";

/// One row: pgbench's rate, a floor's, or a server's.
#[derive(Serialize)]
pub struct Row {
    pub name: String,
    pub per_second: f64,
    /// Of the rate it is read against (a server's floor, or pgbench), measured in the same run:
    /// for a server, the median of its rounds' ratios, each over its floor's round just before.
    pub of: f64,
    /// For a server, the least and the greatest of those ratios.
    pub of_range: Option<(f64, f64)>,
    pub against: String,
    /// Whether the row is held to [`TARGET`]: a server against its floor.
    pub judged: bool,
    /// The largest share of the machine's CPU time stolen by the hypervisor in a round the row
    /// is read from (its own, or the one it is read against).
    pub stolen: f64,
}

/// One measurement kept: a rate, and the share of the machine stolen while it was taken.
#[derive(Clone, Copy)]
struct Reading {
    per_second: f64,
    stolen: f64,
}

/// A measurement during which the hypervisor gave more than this share of the machine's CPU
/// time to others ran on a slower machine than its neighbours: its round is taken again...
const STOLEN_AT_MOST: f64 = 0.02;
/// ...at most this many times more, and the round that lost the least is kept.
const RETAKES: usize = 2;

/// The median, the least and the greatest of the rounds' ratios of `rates` over `bases`.
fn paired(rates: &[Reading], bases: &[Reading]) -> (f64, f64, f64) {
    let ratios: Vec<f64> = rates
        .iter()
        .zip(bases)
        .map(|(rate, base)| rate.per_second / base.per_second)
        .collect();
    let least = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let greatest = ratios.iter().copied().fold(0.0, f64::max);
    (median(ratios.into_iter()), least, greatest)
}

fn mean(rates: &[Reading]) -> f64 {
    rates.iter().map(|rate| rate.per_second).sum::<f64>() / rates.len() as f64
}

/// The most stolen in any of `readings`.
fn most_stolen<'a>(readings: impl IntoIterator<Item = &'a Reading>) -> f64 {
    readings
        .into_iter()
        .map(|reading| reading.stolen)
        .fold(0.0, f64::max)
}

/// What a server must reach of its floor.
pub const TARGET: f64 = 0.9;

pub fn method(rounds: usize, seconds: u32) -> String {
    format!(
        "one throwaway PostgreSQL cluster (pgcluster); pgbench -n -M prepared -c {CONNECTIONS} -j 1 \
         -T {seconds} running {:?} from core 1, in transactions per second; each floor and \
         server, pinned to core 0 with --database, gets wrk -t1 -c64 -d{seconds}s on \
         /query?seconds=0 from core 1, {rounds} rounds taking turns with its floor (and the \
         guarded floor), the mean of the rounds given; a ratio is the median of the rounds' \
         ratios, each over the round of the other measured just before (their range in \
         brackets); the database runs unpinned; a round in which the hypervisor gave more than \
         {:.0}% of the machine's CPU time to others during any measurement (steal, from \
         /proc/stat) is taken again as a whole, at most {RETAKES} times more, and the round \
         that lost the least is kept; target: each server at least {TARGET} of its floor",
        STATEMENT.trim_end(),
        STOLEN_AT_MOST * 100.0
    )
}

/// Measures pgbench, then each server, taking turns with its floor for `rounds` (the machine's
/// speed drifts: a server and its floor measured far apart are not compared fairly), on one
/// cluster.
pub fn measure(
    bin: &Path,
    logs: &Path,
    (rounds, seconds): (usize, u32),
    cores: usize,
) -> anyhow::Result<Vec<Row>> {
    let cluster = Cluster::start(100).context("cannot start a throwaway database")?;
    let url = cluster.url();
    let [pgbench] = retaken("pgbench", || Ok([pgbench(&url, logs, seconds, cores)?]))?;
    let mut rows = vec![Row {
        name: format!("pgbench -M prepared -c {CONNECTIONS}"),
        per_second: pgbench.per_second,
        of: 1.0,
        of_range: None,
        against: "itself".to_owned(),
        judged: false,
        stolen: pgbench.stolen,
    }];
    // Each server, its floor, and (for async-server) the floor that keeps the interface's
    // promises, as hyper's floor does with `--guarded`.
    let kinds = [
        ("hello-tiny-http-postgres", None, "sync-server", "--threads"),
        (
            "hello-hyper-postgres",
            Some("--guarded"),
            "async-server",
            "--db-pool",
        ),
    ];
    for (floor, guarded, server, flag) in kinds {
        let flags = format!("{flag} {CONNECTIONS}");
        let mut contenders = vec![(floor, flags.clone())];
        contenders.extend(guarded.map(|extra| (floor, format!("{flags} {extra}"))));
        contenders.push((server, flags.clone()));
        // The machine's speed drifts between rounds: each round's ratio is taken over the
        // floor's round just before it, so that one slow round moves one ratio, not the mean.
        // A round is taken again as a whole, so that a ratio is always of two measurements
        // that had the machine to the same degree.
        let mut rates = vec![Vec::new(); contenders.len()];
        for _ in 0..rounds {
            let round = retaken(server, || {
                let measured = contenders
                    .iter()
                    .map(|(binary, flags)| rate(bin, logs, binary, flags, &url, seconds, cores));
                measured.collect::<anyhow::Result<Vec<Reading>>>()
            })?;
            for (rates, reading) in rates.iter_mut().zip(round) {
                rates.push(reading);
            }
        }
        let named = |at: usize| format!("{} {}", contenders[at].0, contenders[at].1);
        let floors = &rates[0];
        rows.push(Row {
            name: named(0),
            per_second: mean(floors),
            of: mean(floors) / pgbench.per_second,
            of_range: None,
            against: "pgbench".to_owned(),
            judged: false,
            stolen: most_stolen(floors.iter().chain([&pgbench])),
        });
        // Each row: a contender, the one it is read against, and whether it is held to the
        // target. The server is judged over the floor; where there is a guarded floor (second),
        // it is read over the floor, and the server over it too.
        let server = contenders.len() - 1;
        let readings = match guarded {
            None => vec![(server, 0, true)],
            Some(_) => vec![(1, 0, false), (server, 0, true), (server, 1, false)],
        };
        for (at, base, judged) in readings {
            let (of, least, greatest) = paired(&rates[at], &rates[base]);
            rows.push(Row {
                name: named(at),
                per_second: mean(&rates[at]),
                of,
                of_range: Some((least, greatest)),
                against: named(base),
                judged,
                stolen: most_stolen(rates[at].iter().chain(&rates[base])),
            });
        }
    }
    Ok(rows)
}

/// `measure`'s readings (a round), taken again (at most [`RETAKES`] times more) while the
/// hypervisor stole more than [`STOLEN_AT_MOST`] of the machine in any of them; the round that
/// lost the least is kept.
fn retaken<Round: AsRef<[Reading]>>(
    name: &str,
    mut measure: impl FnMut() -> anyhow::Result<Round>,
) -> anyhow::Result<Round> {
    let mut kept = measure()?;
    for _ in 0..RETAKES {
        let stolen = most_stolen(kept.as_ref());
        if stolen <= STOLEN_AT_MOST {
            break;
        }
        let again = measure()?;
        let stolen_again = most_stolen(again.as_ref());
        eprintln!(
            "{name}: a round lost {:.1}% of the machine's CPU time to the hypervisor; taken \
             again: {:.1}%",
            stolen * 100.0,
            stolen_again * 100.0
        );
        if stolen_again < stolen {
            kept = again;
        }
    }
    Ok(kept)
}

/// `binary`'s `/query?seconds=0` rate with `flags` and the database at `url`.
fn rate(
    bin: &Path,
    logs: &Path,
    binary: &'static str,
    flags: &str,
    url: &str,
    seconds: u32,
    cores: usize,
) -> anyhow::Result<Reading> {
    let launch = Launch::ours_with(bin, binary, &format!("{flags} --database {url}"));
    let log = logs.join(format!("{binary}-query.log"));
    let run = crate::throughput::measure(&launch, &log, "/query?seconds=0", seconds, cores);
    if run.rps <= 0.0 {
        bail!("{binary} answered no /query");
    }
    Ok(Reading {
        per_second: run.rps,
        stolen: run.stolen,
    })
}

/// pgbench's transactions per second on `url` (without the initial connection time), pinned
/// to core 1 as wrk is.
fn pgbench(url: &str, logs: &Path, seconds: u32, cores: usize) -> anyhow::Result<Reading> {
    let script = logs.join("query.sql");
    fs::write(&script, STATEMENT).with_context(|| format!("cannot write {}", script.display()))?;
    let program = pgcluster::bin_dir()?.join("pgbench");
    let machine = MachineTime::now();
    let output = pinned(&program, 1, cores)
        .args(["-n", "-M", "prepared", "-j", "1"])
        .args(["-c", &CONNECTIONS.to_string(), "-T", &seconds.to_string()])
        .arg("-f")
        .arg(&script)
        .arg(url)
        .output()
        .context("cannot run pgbench")?;
    let stolen = machine.stolen_since();
    let text = String::from_utf8_lossy(&output.stdout);
    let tps = text
        .lines()
        .find_map(|line| line.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok());
    match tps {
        Some(per_second) => Ok(Reading { per_second, stolen }),
        None => bail!(
            "pgbench printed no tps: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// The table, with its method.
pub fn markdown(rows: &[Row], method: &str) -> String {
    let mut table = String::from(
        "| /query?seconds=0 | per second | of | read against | target | most stolen in a round |\n\
         | --- | --- | --- | --- | --- | --- |\n",
    );
    for row in rows {
        let target = if !row.judged {
            "—".to_owned()
        } else if row.of >= TARGET {
            format!("≥ {TARGET}: met")
        } else {
            format!("≥ {TARGET}: not met")
        };
        let of = match row.of_range {
            Some((least, greatest)) => format!("{:.2} ({least:.2} to {greatest:.2})", row.of),
            None => format!("{:.2}", row.of),
        };
        table += &format!(
            "| {} | {:.0} | {of} | {} | {target} | {:.1}% |\n",
            row.name,
            row.per_second,
            row.against,
            row.stolen * 100.0
        );
    }
    table + &format!("\nMethod: {method}.\n\n")
}
