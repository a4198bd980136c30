//! Open loop, two ways. First the generator's own capacity: `load` against hello-hyper at
//! 20,000 requests a second on kept connections and 5,000 on new ones, each needing its lateness
//! p99 (sent minus due) within 1 ms to count. Then a cross-check by a client no one here wrote:
//! oha, at the same rate on the same mix with `--latency-correction` (each request timed from
//! when it was due, as `load` does), on one step per server; their p50 and p99 over all requests
//! side by side. oha comes from crates.io (`cargo install --locked oha`) when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use serde::Serialize;

use crate::launch::{pinned, Launch};

/// The mix of the cross-check: the traffic experiment's, 10% on a 50 ms timer.
const MIX: &str = "/nosleep=90,/sleep?seconds=0.05=10";

/// The same mix as a pattern oha draws each request's URL from: one of ten paths, alike. oha
/// takes a dot as itself (it escapes them), so the dot is written bare.
const OHA_PATHS: &str = "(nosleep|nosleep|nosleep|nosleep|nosleep|nosleep|nosleep|nosleep|nosleep|sleep\\?seconds=0.05)";

/// How far apart the two clients' figures may be before the row says so: a share, and a
/// constant for what each client's own connection costs, in ms.
pub const AGREE_WITHIN: f64 = 0.2;
const AGREE_SLACK_MS: f64 = 0.1;

/// What the generator keeps up with.
#[derive(Serialize)]
pub struct Capacity {
    pub connections: &'static str,
    pub rate: f64,
    pub achieved: f64,
    pub lateness_p99_ms: f64,
    pub kept_up: bool,
}

/// One server, one step, measured by both clients.
#[derive(Serialize)]
pub struct CrossCheck {
    pub server: &'static str,
    pub rate: f64,
    pub load_ms: (f64, f64),
    pub oha_ms: (f64, f64),
}

impl CrossCheck {
    /// Whether both percentiles agree within [`AGREE_WITHIN`] of `load`'s, and 0.1 ms.
    pub fn agrees(&self) -> bool {
        let near =
            |ours: f64, theirs: f64| (theirs - ours).abs() <= AGREE_WITHIN * ours + AGREE_SLACK_MS;
        near(self.load_ms.0, self.oha_ms.0) && near(self.load_ms.1, self.oha_ms.1)
    }
}

pub fn method(seconds: u32) -> String {
    format!(
        "each server pinned to core 0 and each client to core 1, a fresh server per run, \
         {seconds} s a run; the generator's capacity: load against hello-hyper, Poisson \
         arrivals, /nosleep only; the cross-check: the mix {MIX} (90% /nosleep, 10% a 50 ms \
         sleep), each request on a new connection, from load --arrivals even (oha -q spaces \
         its requests evenly) and from oha -q RATE --latency-correction --disable-keepalive \
         with its URLs drawn from that mix; p50 and p99 over every request, from when it was \
         due; they agree when oha's are within 20% of load's, plus 0.1 ms"
    )
}

/// The generator's capacity against hello-hyper.
pub fn capacity(
    bin: &Path,
    logs: &Path,
    seconds: u32,
    cores: usize,
) -> anyhow::Result<Vec<Capacity>> {
    let floor = Launch::ours(bin, "hello-hyper");
    let mut rows = Vec::new();
    for (connections, rate, keep_alive) in [
        ("kept (--keep-alive)", 20_000.0, true),
        ("a new one per request", 5_000.0, false),
    ] {
        let (server, url) = floor.start(&logs.join("capacity.log"), cores);
        let json = logs.join("capacity.json");
        let mut command = pinned(&bin.join("load"), 1, cores);
        command.args([
            &url,
            "--rate",
            &rate.to_string(),
            "--duration",
            &seconds.to_string(),
        ]);
        command.args(["--mix", "/nosleep", "--json"]).arg(&json);
        if keep_alive {
            command.arg("--keep-alive");
        }
        quiet(&mut command)?;
        drop(server);
        let summary = read_json(&json)?["summary"].clone();
        let missing = || format!("{} lacks a figure of load's summary", json.display());
        rows.push(Capacity {
            connections,
            rate,
            achieved: summary["achieved"].as_f64().with_context(missing)?,
            lateness_p99_ms: summary["lateness"]["p99_ms"]
                .as_f64()
                .with_context(missing)?,
            kept_up: summary["kept_up"].as_bool().with_context(missing)?,
        });
    }
    Ok(rows)
}

/// One step per server by both clients: sync-server at half its capacity on this mix (about
/// 196/s), async-server at 500/s.
pub fn cross_check(
    bin: &Path,
    logs: &Path,
    seconds: u32,
    cores: usize,
) -> anyhow::Result<Vec<CrossCheck>> {
    let oha = oha()?;
    let mut rows = Vec::new();
    for (server, rate) in [
        ("sync-server", 100.0),
        ("async-server --warn-blocked 0", 500.0),
    ] {
        let launch = Launch::ours(bin, server);
        let (running, url) = launch.start(&logs.join("cross-check.log"), cores);
        let requests = logs.join("cross-check-requests.tsv");
        let mut command = pinned(&bin.join("load"), 1, cores);
        command.args([
            &url,
            "--rate",
            &rate.to_string(),
            "--duration",
            &seconds.to_string(),
        ]);
        command
            .args(["--arrivals", "even", "--mix", MIX, "--requests"])
            .arg(&requests);
        quiet(&mut command)?;
        drop(running);
        let load_ms = percentiles_of_requests(&requests)?;
        let (running, url) = launch.start(&logs.join("cross-check.log"), cores);
        let mut command = pinned(&oha, 1, cores);
        command.args(["--no-tui", "--output-format", "json", "--disable-keepalive"]);
        command.args(["--latency-correction", "-q", &rate.to_string()]);
        command.args(["-z", &format!("{seconds}s"), "--rand-regex-url"]);
        command.arg(format!("{url}/{OHA_PATHS}"));
        let output = command.output().context("cannot run oha")?;
        drop(running);
        if !output.status.success() {
            bail!("oha failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        let json: serde_json::Value = serde_json::from_slice(&output.stdout)
            .context("oha's output is not the JSON asked for")?;
        let statuses = json["statusCodeDistribution"].as_object();
        if statuses.is_none_or(|s| s.keys().any(|status| status != "200")) {
            bail!(
                "oha got answers other than 200: {:?}",
                json["statusCodeDistribution"]
            );
        }
        let percentile = |name: &str| {
            json["latencyPercentiles"][name]
                .as_f64()
                .unwrap_or(f64::NAN)
                * 1000.0
        };
        rows.push(CrossCheck {
            server,
            rate,
            load_ms,
            oha_ms: (percentile("p50"), percentile("p99")),
        });
    }
    Ok(rows)
}

/// p50 and p99 in ms over every answered request of `load --requests`' file.
fn percentiles_of_requests(path: &Path) -> anyhow::Result<(f64, f64)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut latencies: Vec<f64> = text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let (due, done) = (
                fields.first()?.parse::<f64>().ok()?,
                fields.get(2)?.parse::<f64>().ok()?,
            );
            fields.get(4)?.parse::<u16>().ok()?;
            Some((done - due) / 1000.0)
        })
        .collect();
    if latencies.is_empty() {
        bail!("load answered nothing");
    }
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| {
        latencies[((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1]
    };
    Ok((at(0.5), at(0.99)))
}

/// oha on the PATH or in cargo's bin directory, installed from crates.io when missing.
fn oha() -> anyhow::Result<PathBuf> {
    let installed = std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo/bin/oha"));
    let found = |path: &PathBuf| {
        Command::new(path)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    for candidate in [Some(PathBuf::from("oha")), installed.clone()]
        .into_iter()
        .flatten()
    {
        if found(&candidate) {
            return Ok(candidate);
        }
    }
    eprintln!("oha is missing: cargo install --locked oha (about 6.5 minutes on 2 cores, once)");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(["install", "--locked", "oha"])
        .status()
        .context("cannot run cargo")?;
    let installed = installed.context("no HOME to find cargo's bin directory in")?;
    if !status.success() || !found(&installed) {
        bail!("cargo install --locked oha failed");
    }
    Ok(installed)
}

fn quiet(command: &mut Command) -> anyhow::Result<()> {
    let output = command.output().context("cannot run load")?;
    if !output.status.success() {
        bail!("load failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(())
}

fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// The two tables, with their method.
pub fn markdown(capacity: &[Capacity], checks: &[CrossCheck], method: &str) -> String {
    let mut table = String::from(
        "| load's connections | offered /s | achieved /s | lateness p99 ms | kept up (≤ 1 ms) |\n| --- | --- | --- | --- | --- |\n",
    );
    for row in capacity {
        table += &format!(
            "| {} | {:.0} | {:.0} | {:.3} | {} |\n",
            row.connections,
            row.rate,
            row.achieved,
            row.lateness_p99_ms,
            if row.kept_up { "yes" } else { "no" }
        );
    }
    table += "\n| server | rate /s | load p50 ms | oha p50 ms | load p99 ms | oha p99 ms | within 20% |\n| --- | --- | --- | --- | --- | --- | --- |\n";
    for row in checks {
        table += &format!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} |\n",
            row.server,
            row.rate,
            row.load_ms.0,
            row.oha_ms.0,
            row.load_ms.1,
            row.oha_ms.1,
            if row.agrees() { "yes" } else { "no" }
        );
    }
    if checks.iter().any(|check| !check.agrees()) {
        table += "\nWhere they differ by more: on sync-server's one thread a request waits for \
                  the sleeps drawn just before it, and each client draws its tenth of sleeps \
                  by chance of its own, so a p99 of a few hundred or thousand requests rests on \
                  a handful of clusters of sleeps; on async-server no request waits for another, \
                  and there the two clients measure the same.\n";
    }
    table + &format!("\nMethod: {method}.\n\n")
}
