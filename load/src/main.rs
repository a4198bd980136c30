//! `load`: open-loop load against any HTTP server, timed from when each request was due.
//!
//! `load http://127.0.0.1:8000 --rate 100 --duration 10 --mix '/nosleep=90,/sleep?seconds=0.05=10'`
//! draws the schedule (Poisson arrivals at 100/s for 10 s, from `--seed`), sends each request
//! when it is due on a connection of its own, and prints each class's latency percentiles, the
//! answers and failures, and the client's own lateness.

use std::fs;
use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use load::client::{self, Outcome, Plan};
use load::mix::Mix;
use load::schedule::{self, Arrivals};
use load::stats::Summary;
use shared::os::cli::{self, Arguments};

/// Open-loop load: each request sent when it is due, whatever the others are doing, and timed
/// from then.
#[derive(Parser, Debug)]
#[command(name = "load", version)]
struct Cli {
    /// The server: http://HOST:PORT (a path after it goes before every path of the mix)
    url: String,
    /// Requests per second
    #[arg(long, value_name = "R", value_parser = positive)]
    rate: f64,
    /// How long to send for, in seconds
    #[arg(long, value_name = "S", value_parser = cli::timeout)]
    duration: Duration,
    /// The paths and their weights: 'PATH=WEIGHT,PATH=WEIGHT' (a weight follows a path's last =)
    #[arg(long, value_name = "MIX", value_parser = Mix::parse)]
    mix: Mix,
    /// How arrivals are spaced
    #[arg(long, value_enum, default_value = "poisson")]
    arrivals: Arrivals,
    /// The seed the schedule is drawn from
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,
    /// Reuse idle connections (opening one when none is idle) instead of one per request
    #[arg(long)]
    keep_alive: bool,
    /// Give up on a request this many seconds after it was due
    #[arg(long, value_name = "S", default_value = "10", value_parser = cli::timeout)]
    timeout: Duration,
    /// Send a request up to N more times after it timed out or was answered 503, at once
    #[arg(long, value_name = "N", default_value_t = 0)]
    retries: u32,
    /// Write the figures as JSON to FILE
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write one line per request to FILE: due, sent and done (µs from the start), class, status
    #[arg(long, value_name = "FILE")]
    requests: Option<PathBuf>,
}

impl Arguments for Cli {}

fn main() -> ExitCode {
    match cli::parse::<Cli>() {
        Ok(args) => cli::finish(run(&args)),
        Err(exit) => exit,
    }
}

fn run(args: &Cli) -> anyhow::Result<()> {
    let (addr, host, prefix) = target(&args.url)?;
    let mix = Mix(args
        .mix
        .0
        .iter()
        .map(|class| load::mix::Class {
            path: format!("{prefix}{}", class.path),
            weight: class.weight,
        })
        .collect());
    let schedule = schedule::draw(args.rate, args.duration, args.arrivals, &mix, args.seed);
    println!(
        "load: {} requests to {} over {} s ({:?} arrivals at {}/s, seed {}), {}",
        schedule.len(),
        args.url,
        args.duration.as_secs_f64(),
        args.arrivals,
        args.rate,
        args.seed,
        if args.keep_alive {
            "keep-alive"
        } else {
            "a new connection each"
        }
    );
    let plan = Plan {
        addr,
        host: &host,
        mix: &mix,
        schedule: &schedule,
        keep_alive: args.keep_alive,
        timeout: args.timeout,
        retries: args.retries,
    };
    let outcomes = client::run(&plan).context("cannot start the client")?;
    let summary = Summary::of(&outcomes, &mix, args.duration);
    print!("{}", summary.text());
    println!(
        "measured open loop: each request timed from when it was due (not from when it was sent), \
         on one tokio current_thread client"
    );
    if let Some(path) = &args.json {
        let json = serde_json::json!({
            "url": args.url, "rate": args.rate, "duration_s": args.duration.as_secs_f64(),
            "arrivals": args.arrivals, "seed": args.seed, "keep_alive": args.keep_alive,
            "mix": mix.to_string(), "summary": summary,
        });
        let text = serde_json::to_string_pretty(&json).expect("the figures serialize");
        fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.requests {
        write_requests(path, &outcomes)?;
    }
    Ok(())
}

/// The address to connect to, the `Host` header, and the path prefix, from `http://HOST:PORT/..`.
fn target(url: &str) -> anyhow::Result<(SocketAddr, String, String)> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("{url:?} is not an http:// URL"))?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let addr = authority
        .to_socket_addrs()
        .ok()
        .and_then(|mut found| found.next())
        .with_context(|| format!("{authority:?} is not HOST:PORT this machine resolves"))?;
    let prefix = if path.is_empty() {
        String::new()
    } else {
        format!("/{}", path.trim_end_matches('/'))
    };
    Ok((addr, authority.to_owned(), prefix))
}

fn write_requests(path: &PathBuf, outcomes: &[Outcome]) -> anyhow::Result<()> {
    let file =
        fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let micros = |d: Duration| d.as_micros();
    writeln!(out, "due_us\tsent_us\tdone_us\tclass\tstatus\tretry")?;
    for o in outcomes {
        let sent = o.sent.map_or("-".to_owned(), |s| micros(s).to_string());
        let status = match o.result {
            Ok(status) => status.to_string(),
            Err(failure) => failure.name().replace(' ', "-"),
        };
        writeln!(
            out,
            "{}\t{sent}\t{}\t{}\t{status}\t{}",
            micros(o.due),
            micros(o.done),
            o.class,
            o.retry
        )?;
    }
    out.flush()?;
    Ok(())
}

fn positive(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value > 0.0 => Ok(value),
        _ => Err("expected a positive number".to_owned()),
    }
}
