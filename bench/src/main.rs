//! The benchmark runner: `cargo run --release -p bench -- [--quick] [--seed]`.
//!
//! Builds everything in release mode, installs wrk if it is missing, pins each server to one
//! core and its load generator to another (with two cores or more), and measures `/nosleep`
//! throughput and latency of each server and of the minimal server it is built on, rotating
//! them so that all see the same machine; `/query?seconds=0` against a floor of each kind, and
//! the floors against pgbench, on one throwaway PostgreSQL cluster; `/fetch?seconds=0` against the upstream's own rate (one hop more); the
//! open-loop generator's capacity, and its figures beside oha's on one step per server; then
//! many concurrent sleeps (fan-out). With `--seed`, the seed's own Django stack too. Prints the tables with the method and the machine under
//! them, and writes them to `docs/performance.md` and `docs/performance.json` (with `--quick`,
//! a shorter run that checks the runner, to `target/bench/`).

//!
//! Each measurement is a module of its own: [`throughput`], [`database`], [`upstream`],
//! [`open_loop`], [`fanout`], [`instructions`]; [`report`] writes them out, [`tools`] gets the build and the tools ready.

mod database;
mod fanout;
mod instructions;
mod items;
mod launch;
mod open_loop;
mod report;
mod seed;
mod throughput;
mod tools;
mod upstream;

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use shared::os::cli::{self, Arguments};

use crate::report::{Report, Settings};

/// Measures both servers against the minimal servers they are built on, and writes
/// docs/performance.md and docs/performance.json.
#[derive(Parser, Debug)]
#[command(name = "bench", version)]
struct Cli {
    /// A short run that checks the runner: 2 rounds of 3 s, fan-out to 1,000, figures written to
    /// target/bench/ instead of docs/
    #[arg(long)]
    quick: bool,
    /// Also measure the seed's own stack (Django's runserver and uvicorn, from PyPI)
    #[arg(long)]
    seed: bool,
    /// Instead, where each server's instructions per request go, item by item, beside its
    /// floor's; written to docs/instructions.md
    #[arg(long, conflicts_with_all = ["quick", "seed"])]
    items: bool,
    /// Instead, only `/query` against the floors and pgbench (with --quick, its short form),
    /// printed and not written: the part of the run that judges the servers by their floors
    #[arg(long, conflicts_with_all = ["seed", "items"])]
    query: bool,
    #[command(subcommand)]
    role: Option<Role>,
}

impl Arguments for Cli {}

#[derive(Subcommand, Debug)]
enum Role {
    /// The runner's own fan-out client, which it starts pinned to a core of its own
    #[command(hide = true)]
    FanoutClient {
        addr: SocketAddr,
        count: usize,
        seconds: f64,
        /// What each request asks (`/sleep`, or `/fetch` through an upstream)
        #[arg(default_value = "/sleep")]
        route: String,
    },
}

fn main() -> ExitCode {
    match cli::parse() {
        Ok(args) => cli::finish(run(args)),
        Err(exit) => exit,
    }
}

fn run(args: Cli) -> anyhow::Result<()> {
    if let Some(Role::FanoutClient {
        addr,
        count,
        seconds,
        route,
    }) = args.role
    {
        let measured = probe::crowd::run(addr, count, &route, seconds);
        println!("{}", serde_json::to_string(&measured)?);
        return Ok(());
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned();
    if args.items {
        return tools::item_by_item(&root);
    }
    let (rounds, seconds) = if args.quick { (2, 3) } else { (5, 10) };
    let settings = Settings {
        rounds,
        seconds,
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        quick: args.quick,
        seed: args.seed,
    };
    tools::build(&root, None)?;
    for (program, package) in [
        ("wrk", "wrk"),
        ("valgrind", "valgrind"),
        ("h2load", "nghttp2-client"),
    ] {
        tools::ensure_tool(program, package)?;
    }
    let bin = root.join("target/release");
    let logs = root.join("target/bench");
    fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    let cores = settings.cores;
    if args.query {
        let rows = database::measure(&bin, &logs, (rounds, seconds), cores)?;
        print!(
            "{}",
            database::markdown(&rows, &database::method(rounds, seconds))
        );
        return Ok(());
    }

    let seed = args.seed.then(|| seed::prepare(&root));
    let throughput = throughput::measure_all(&bin, &logs, (rounds, seconds), cores, seed.as_ref());
    let fanout = fanout::measure_all(&bin, &logs, args.quick, cores, seed);
    let instructions = instructions::count_all(&bin, &logs)?;
    let database = database::measure(&bin, &logs, (rounds, seconds), cores)?;
    for row in &database {
        eprintln!(
            "{}: {:.0} /query per second, {:.2} of {}",
            row.name, row.per_second, row.of, row.against
        );
    }

    let upstream = upstream::measure(&bin, &logs, seconds, cores)?;
    for row in &upstream {
        eprintln!(
            "{}: {:.0} per second, {:.2} of the upstream's own",
            row.name, row.per_second, row.of_upstream
        );
    }

    let capacity = open_loop::capacity(&bin, &logs, seconds, cores)?;
    let cross_check = open_loop::cross_check(&bin, &logs, seconds, cores)?;
    for row in &cross_check {
        eprintln!(
            "{} at {:.0}/s: p50 {:.2} ms (oha {:.2}), p99 {:.2} ms (oha {:.2})",
            row.server, row.rate, row.load_ms.0, row.oha_ms.0, row.load_ms.1, row.oha_ms.1
        );
    }

    let report = Report::new(
        &settings,
        throughput,
        (database, upstream),
        (capacity, cross_check),
        fanout,
        instructions,
    );
    // A quick run checks the runner; only a full one replaces the figures the docs quote.
    report.write(&if args.quick { logs } else { root.join("docs") })?;
    // CI fails when a server's cost grows past the committed figure.
    instructions::gate(&root.join("bench/instructions.json"), &report.instructions)
}
