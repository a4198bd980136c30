//! The report: every table with its method and the machine, as Markdown and JSON, written to
//! `docs/` (or, for a quick run, `target/bench/`).

use std::fs;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use crate::fanout::{FanOut, FANOUT_SLEEP, QUERY_MAX_CONNECTIONS, QUERY_POOL, QUERY_WAIT};
use crate::instructions::{self, Instructions};
use crate::throughput::{median, Throughput};
use crate::{database, open_loop, upstream};

#[derive(Serialize)]
pub(crate) struct Report {
    pub(crate) machine: String,
    pub(crate) method: String,
    pub(crate) throughput: Vec<Throughput>,
    pub(crate) database_method: String,
    pub(crate) database: Vec<database::Row>,
    pub(crate) upstream_method: String,
    pub(crate) upstream: Vec<upstream::Row>,
    pub(crate) open_loop_method: String,
    pub(crate) generator_capacity: Vec<open_loop::Capacity>,
    pub(crate) cross_check: Vec<open_loop::CrossCheck>,
    pub(crate) fanout_method: String,
    pub(crate) fanout: Vec<FanOut>,
    pub(crate) instructions_method: &'static str,
    pub(crate) instructions: Vec<Instructions>,
}

/// How the seed's servers were run, for the method line.
pub(crate) const SEED_METHOD: &str =
    "; the seed's stack (--seed): its views in bench/seed, Django and \
    uvicorn from PyPI (bench/seed/requirements.txt), `manage.py runserver --nothreading \
    --noreload` and `uvicorn --workers 1`, each logging to its file; their ratio is to the server \
    of ours that stands for them; runserver closes the connection after every answer, which wrk \
    counts as a read error";

pub(crate) fn markdown(report: &Report) -> String {
    let mut table = String::from(
        "| server | req/s | p50 | p99 | of the floor's req/s | CPU per request | of the floor's \
         | errors (wrk) | most stolen in a round |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for t in &report.throughput {
        let (against, cpu_against) = match t.role {
            "floor" => ("the floor".to_owned(), "the floor".to_owned()),
            _ => (
                format!("{:.2} of {}", t.ratio, t.floor),
                format!("{:.2}x {}", t.cpu_ratio, t.floor),
            ),
        };
        let errors = if t.errors.is_empty() {
            "none"
        } else {
            &t.errors
        };
        table += &format!(
            "| {} | {:.0} | {} | {} | {} | {:.2} µs | {} | {} | {:.1}% |\n",
            t.server,
            median(t.rps.iter().copied()),
            latency(t.p50_us),
            latency(t.p99_us),
            against,
            median(t.cpu_us.iter().copied()),
            cpu_against,
            errors,
            t.stolen * 100.0
        );
    }
    table += &format!("\nMethod: {}.\n\n", report.method);
    table += &database::markdown(&report.database, &report.database_method);
    table += &upstream::markdown(&report.upstream, &report.upstream_method);
    table += &open_loop::markdown(
        &report.generator_capacity,
        &report.cross_check,
        &report.open_loop_method,
    );
    table += "| server | concurrent 2 s sleeps | answered | wall | latency p50 | p99 | max \
              | peak RSS | per connection | OS threads at the peak | /nosleep p99 meanwhile |\n\
              | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
    let (queries, fanout): (Vec<&FanOut>, Vec<&FanOut>) = report
        .fanout
        .iter()
        .partition(|f| f.peak_database_connections.is_some());
    for f in fanout {
        let m = &f.measured;
        table += &format!(
            "| {} | {} | {} | {:.2} s | {:.3} s | {:.3} s | {:.3} s | {:.1} MiB | {:.1} KiB | \
             {} | {} |\n",
            f.server,
            m.requests,
            m.answered,
            m.wall_s,
            m.latency_p50_s,
            m.latency_p99_s,
            m.latency_max_s,
            f.peak_rss_kib as f64 / 1024.0,
            f.per_connection_kib,
            f.peak_threads,
            meanwhile(m)
        );
    }
    table += &format!("\nMethod: {}.\n\n", report.fanout_method);
    table += &format!(
        "| server | concurrent /query of {QUERY_WAIT} s | answered | wall | rounds of the pool \
         | latency p50 | max | peak RSS | per waiting request | OS threads at the peak \
         | database connections at the peak | their backends' memory (PSS) |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    );
    for f in queries {
        let m = &f.measured;
        table += &format!(
            "| {} | {} | {} | {:.2} s | {:.1} | {:.3} s | {:.3} s | {:.1} MiB | {:.1} KiB | {} \
             | {} | {:.1} MiB |\n",
            f.server,
            m.requests,
            m.answered,
            m.wall_s,
            m.wall_s / QUERY_WAIT,
            m.latency_p50_s,
            m.latency_max_s,
            f.peak_rss_kib as f64 / 1024.0,
            f.per_connection_kib,
            f.peak_threads,
            f.peak_database_connections.unwrap_or(0),
            f.peak_backends_pss_kib.unwrap_or(0) as f64 / 1024.0,
        );
    }
    table += &format!(
        "\nMethod: the fan-out's client, each request GET /query?seconds={QUERY_WAIT} on a \
         throwaway cluster (pgcluster, max_connections {}), the server started with --db-pool \
         {QUERY_POOL} --db-wait 60; rounds are the wall time over one query's wait; connections \
         and the backends serving them are the server's sockets to the database's port and the \
         backend processes naming them, read every 10 ms; PSS counts each backend's share of \
         the shared buffers once.\n\n",
        QUERY_MAX_CONNECTIONS
    );
    table += "| server | instructions per request | of the floor's |\n| --- | --- | --- |\n";
    for counted in &report.instructions {
        let against = if counted.server == counted.floor {
            "the floor".to_owned()
        } else {
            format!("{:.2}x {}", counted.ratio, counted.floor)
        };
        table += &format!(
            "| {} | {:.0} | {against} |\n",
            counted.server, counted.per_request
        );
    }
    table
        + &format!(
            "\nMethod: {}.\n\nMachine: {}.\n",
            report.instructions_method, report.machine
        )
}

/// A latency in the unit that reads best: `640 µs`, `32.4 ms`, `1.20 s`.
pub(crate) fn latency(micros: f64) -> String {
    match micros {
        us if us < 1e3 => format!("{us:.0} µs"),
        us if us < 1e6 => format!("{:.1} ms", us / 1e3),
        us => format!("{:.2} s", us / 1e6),
    }
}

/// The fan-out table's last cell: how the `/nosleep` asked during the sleeps fared.
pub(crate) fn meanwhile(m: &probe::crowd::Measured) -> String {
    let asked = m.nosleep_count;
    if m.nosleep_unanswered == asked {
        return format!("none answered ({asked} asked, unanswered in 5 s)");
    }
    format!(
        "{:.2} ms ({asked} asked, {} unanswered in 5 s)",
        m.nosleep_p99_ms, m.nosleep_unanswered
    )
}

/// How a run was made, for the methods under the tables.
pub(crate) struct Settings {
    pub(crate) rounds: usize,
    pub(crate) seconds: u32,
    pub(crate) cores: usize,
    pub(crate) quick: bool,
    pub(crate) seed: bool,
}

impl Report {
    /// The report of one run, each table with the method that made it.
    pub(crate) fn new(
        settings: &Settings,
        throughput: Vec<Throughput>,
        (database, upstream): (Vec<database::Row>, Vec<upstream::Row>),
        (generator_capacity, cross_check): (Vec<open_loop::Capacity>, Vec<open_loop::CrossCheck>),
        fanout: Vec<FanOut>,
        instructions: Vec<Instructions>,
    ) -> Report {
        let Settings {
            rounds,
            seconds,
            cores,
            quick,
            seed,
        } = *settings;
        let pinned = if cores >= 2 {
            "each server pinned to core 0 and wrk to core 1 (taskset)"
        } else {
            "one core: not pinned"
        };
        Report {
            machine: probe::process::machine(cores),
            method: format!(
                "wrk -t1 -c64 -d{seconds}s --latency on /nosleep (keep-alive, 64 connections), \
                 {pinned}; {rounds} rounds rotating each server with its floor (and reference), \
                 medians reported; logging on, stdout to a file; release build; the share of \
                 the machine's CPU time the hypervisor stole while wrk ran is read from \
                 /proc/stat and shown, not retaken{}{}",
                if quick { "; --quick" } else { "" },
                if seed { SEED_METHOD } else { "" }
            ),
            throughput,
            database_method: database::method(rounds, seconds),
            database,
            upstream_method: upstream::method(seconds),
            upstream,
            open_loop_method: open_loop::method(seconds),
            generator_capacity,
            cross_check,
            fanout_method: format!(
                "N connections at once, each GET /sleep?seconds={FANOUT_SLEEP} (Connection: \
                 close), from one tokio current_thread client pinned apart from the server; \
                 meanwhile /nosleep asked one at a time on new connections; peak RSS is the \
                 server's VmHWM, idle RSS its VmRSS before; a /fetch row asks \
                 /fetch?seconds={FANOUT_SLEEP} instead, each one call to an upstream \
                 async-server (pinned with the server to core 0) with --upstream-connections N, \
                 so the server holds a socket out for each"
            ),
            fanout,
            instructions_method: instructions::METHOD,
            instructions,
        }
    }

    /// Prints the tables and writes `performance.md` and `performance.json` into `out`.
    pub(crate) fn write(&self, out: &Path) -> anyhow::Result<()> {
        let table = markdown(self);
        println!("{table}");
        let json = serde_json::to_string_pretty(self)? + "\n";
        for (name, text) in [("performance.md", table), ("performance.json", json)] {
            let path = out.join(name);
            fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        }
        eprintln!(
            "wrote {0}/performance.md and {0}/performance.json",
            out.display()
        );
        Ok(())
    }
}
