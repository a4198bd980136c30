//! compare's command line: the servers it talks to (or starts), and the experiments it runs.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use probe::Target;

/// Runs the seed's experiment against both servers, with numbers and a timeline.
#[derive(Parser, Debug)]
#[command(name = "compare", version)]
pub struct Cli {
    /// The experiments to run, in order
    #[arg(value_enum, default_values_t = [Name::Seed])]
    pub scenarios: Vec<Name>,
    /// The blocking server
    #[arg(long = "sync", value_name = "URL", default_value = "http://127.0.0.1:8000", value_parser = Target::parse)]
    pub sync_server: Target,
    /// The async server
    #[arg(long = "async", value_name = "URL", default_value = "http://127.0.0.1:8001", value_parser = Target::parse)]
    pub async_server: Target,
    /// The blocking server with four handler threads, for `threads` and `cores`
    #[arg(long = "threaded", value_name = "URL", default_value = "http://127.0.0.1:8002", value_parser = Target::parse)]
    pub threaded_server: Target,
    /// The async server with a blocking pool of two threads and a database pool of two, for
    /// `pool` and `db-pool`
    #[arg(long = "pool", value_name = "URL", default_value = "http://127.0.0.1:8003", value_parser = Target::parse)]
    pub pool_server: Target,
    /// The blocking server with eight handler threads, for `db-pool`
    #[arg(long = "many-threads", value_name = "URL", default_value = "http://127.0.0.1:8004", value_parser = Target::parse)]
    pub many_threads_server: Target,
    /// The blocking server that `calls` sends `/fetch?via=threads`
    #[arg(long = "via-threads", value_name = "URL", default_value = "http://127.0.0.1:8005", value_parser = Target::parse)]
    pub via_threads_server: Target,
    /// Start the servers (the binaries built beside this one) on free ports, and stop them after
    #[arg(long, conflicts_with_all = ["sync_server", "async_server", "threaded_server", "pool_server", "many_threads_server", "via_threads_server"])]
    pub spawn: bool,
    /// The database the spawned servers' /query uses (`query`); without it `--spawn` starts a
    /// throwaway PostgreSQL cluster and removes it after
    #[arg(long, value_name = "URL", requires = "spawn")]
    pub database: Option<String>,
    /// The upstream the spawned servers' /fetch calls (`fetch`, `calls`, `fetch-scale`);
    /// without it `--spawn` starts an async-server as the upstream
    #[arg(long, value_name = "URL", requires = "spawn")]
    pub upstream: Option<String>,
    /// Also run the seed's own Django stack (runserver --nothreading, threaded runserver,
    /// uvicorn) in the scenarios that have lanes for it (query, db-pool, db-limit, answer) and
    /// as designs of load and overload; Django,
    /// uvicorn and psycopg come from PyPI into target/seed-venv
    #[arg(long, requires = "spawn")]
    pub seed: bool,
    /// Multiply every time (the 5 s sleep, the 2 s offset) by F, for a quicker run
    #[arg(long, value_name = "F", default_value_t = 1.0, value_parser = scale)]
    pub scale: f64,
    /// How many /sleep requests `fanout` (default 5, at most 1000) and `scale` (default 1000)
    /// send to each server at once
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=20_000))]
    pub requests: Option<u32>,
    /// Write the results as JSON to FILE
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Draw the timeline as SVG to FILE
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// How long each step of `load` offers its rate, and T of `overload`, in seconds [default:
    /// 10 × --scale]
    #[arg(long, value_name = "S", value_parser = shared::os::cli::timeout)]
    pub duration: Option<std::time::Duration>,
    /// The workloads `load` sweeps (repeat the flag for several) [default: all five]
    #[arg(long = "workload", value_enum, value_name = "NAME")]
    pub workloads: Vec<crate::traffic::Workload>,
    /// Where `load` writes its page (and its picture beside it, as .svg)
    #[arg(long, value_name = "FILE", default_value = "docs/load.md")]
    pub load_page: PathBuf,
    /// How long `overload`'s clients wait for an answer before they give up, in seconds
    #[arg(long, value_name = "S", default_value = "1", value_parser = shared::os::cli::timeout)]
    pub client_timeout: std::time::Duration,
    /// How many more times `overload`'s clients send a request after a timeout or a 503
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=3))]
    pub retries: u32,
    /// Where `overload` writes its page (and its picture beside it, as .svg)
    #[arg(long, value_name = "FILE", default_value = "docs/overload.md")]
    pub overload_page: PathBuf,
    /// Where `answer` writes its page (and, without --svg, its timeline beside it, as .svg)
    #[arg(long, value_name = "FILE", default_value = "docs/answer.md")]
    pub page: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Name {
    /// /sleep at 0 s and /nosleep at 2 s; then /sleep at 0 s and /sleep at 2 s
    Seed,
    /// Every kind of wait against every design, in one table: writes docs/answer.md and
    /// docs/answer.svg (about a minute; needs --spawn for the database and the upstream)
    Answer,
    /// --requests concurrent /sleep on each server
    Fanout,
    /// 4 concurrent /sleep on sync-server with --threads 1 and with --threads 4
    Threads,
    /// /query (5 s in the database) at 0 s, /nosleep at 2 s, on both: the wait is a socket now
    Query,
    /// /fetch (5 s upstream) at 0 s, /nosleep at 2 s, on both: the wait is another service
    Fetch,
    /// one /fetch of 3 calls of 1 s: one after another on sync-server, a thread per call
    /// (via=threads), all at once on async-server
    Calls,
    /// 8 /query (1 s) at once on async-server --db-pool 2 (four rounds) and on sync-server
    /// --threads 8 (one round, on eight connections)
    DbPool,
    /// /block (a blocking sleep in the async handler) at 0 s, /nosleep at 2 s, on async-server
    Block,
    /// /offload (the blocking sleep on the blocking pool) at 0 s, /nosleep at 2 s, on async-server
    Offload,
    /// /compute (2 s of CPU) at 0 s, /nosleep at 0.8 s, on both: computing blocks either
    Compute,
    /// 4 /compute at once on sync-server --threads 4, 4 /offload?work=compute on async-server:
    /// CPU work takes ⌈4/cores⌉ rounds
    Cores,
    /// 8 /offload (1 s sleeps) on async-server --blocking-threads 2: four rounds, as threads
    Pool,
    /// 2 × cores /offload?work=compute at once, and /nosleep meanwhile, on async-server
    Crowded,
    /// --requests (1000) concurrent 2 s /sleep on sync-server --threads N, async-server, and
    /// sync-server with one thread: what each waiting request costs
    Scale,
    /// --requests (1000) concurrent /fetch (1 s upstream) on sync-server --threads N and
    /// async-server, then with --upstream-connections 10: ⌈N/10⌉ rounds
    FetchScale,
    /// 30 /query (1 s) at once, and 4 more after, on a database of max_connections 20 of its
    /// own: async-server --db-pool 10, sync-server --threads 30 and, with --seed, Django on
    /// uvicorn, one after another (needs --spawn)
    DbLimit,
    /// Each design under traffic, open loop: 90% /nosleep and 10% of one kind of wait, swept
    /// over rates up to past its predicted knee, beside the queueing model's prediction from the
    /// same arrivals; writes docs/load.md and docs/load.svg (about 17 minutes at --scale 1;
    /// --workload picks some)
    Load,
    /// Each design past its knee and back, open loop: half its predicted capacity for T, twice
    /// it for T, half for 2T, with clients that give up (--client-timeout) and retry
    /// (--retries), with and without --queue-deadline, beside the model; then twice the
    /// capacity for 6T on each server; writes docs/overload.md and docs/overload.svg (about 8
    /// minutes at --scale 1)
    Overload,
    /// What a waiting request costs as their number grows: N/100, N/10 and N (--requests,
    /// default 10000) concurrent 2 s /sleep on sync-server --threads N and async-server (needs
    /// --spawn)
    Growth,
}

pub fn scale(text: &str) -> Result<f64, String> {
    let value: f64 = text.parse().map_err(|_| "not a number".to_owned())?;
    if (0.02..=12.0).contains(&value) {
        Ok(value)
    } else {
        // Below 0.02 the gaps are too short to tell from noise; above 12 a sleep exceeds the
        // servers' default --max-sleep of 60 s.
        Err("must be from 0.02 to 12".to_owned())
    }
}
