//! Instructions per request, counted by callgrind: a figure that does not drift with the
//! machine's load or speed, as requests per second on a shared machine do.
//!
//! Each server runs under `valgrind --tool=callgrind` twice, once answering [`FEW`] `/nosleep`
//! and once [`MANY`], from `h2load --h1` on four keep-alive connections; it is stopped with
//! `SIGTERM` and callgrind writes the instructions it counted. What both runs share (starting,
//! stopping) cancels out of the difference, which divided by `MANY - FEW` is the cost of one
//! request, logging on, kernel time not included.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, ensure, Context};
use serde::{Deserialize, Serialize};

use crate::launch::Launch;

/// The requests of the short run.
pub const FEW: usize = 1000;
/// The requests of the long run.
pub const MANY: usize = 4000;

/// How every instruction count was taken, for the tables.
pub const METHOD: &str = "each server run twice under valgrind --tool=callgrind (all its threads \
    counted), answering 1000 and then 4000 GET /nosleep from h2load --h1 -c 4 (keep-alive), then \
    stopped with SIGTERM; the difference of the two instruction counts over 3000; user-space \
    instructions only (the kernel's share of a request is not counted), logging on, output to a \
    file";

/// Counts the instructions `launch` executes per `/nosleep`, its output going to `log`.
pub fn per_request(launch: &Launch, log: &Path, out_dir: &Path) -> anyhow::Result<f64> {
    let total = |requests| {
        let out = counted(launch, log, out_dir, requests)?;
        let counts = fs::read_to_string(&out)
            .with_context(|| format!("{}: callgrind wrote no counts", launch.name))?;
        total_instructions(&counts)
    };
    let (few, many) = (total(FEW)?, total(MANY)?);
    ensure!(
        many > few,
        "{}: more requests counted fewer instructions",
        launch.name
    );
    Ok((many - few) as f64 / (MANY - FEW) as f64)
}

/// Runs `launch` under callgrind answering `requests` requests, start to stop; returns the file
/// callgrind wrote its counts to.
pub fn counted(
    launch: &Launch,
    log: &Path,
    out_dir: &Path,
    requests: usize,
) -> anyhow::Result<PathBuf> {
    let name = launch.name.replace(' ', "_");
    let out = out_dir.join(format!("callgrind.{name}.{requests}.out"));
    let _ = fs::remove_file(&out);
    let under = launch.under(&[
        "valgrind",
        "--tool=callgrind",
        &format!("--callgrind-out-file={}", out.display()),
    ]);
    // Pinned to no core: valgrind runs every thread of its guest on one at a time anyway.
    let (server, url) = under.start(log, 1);
    let client = Command::new("h2load")
        .args(["--h1", "-n", &requests.to_string(), "-c", "4"])
        .arg(format!("{url}/nosleep"))
        .output()
        .context("cannot run h2load")?;
    let report = String::from_utf8_lossy(&client.stdout);
    let done = format!("{requests} succeeded, 0 failed");
    ensure!(
        report.contains(&done),
        "{}: h2load did not get {requests} answers:\n{report}",
        launch.name
    );
    ensure!(
        server.stop(Duration::from_secs(60)),
        "{}: did not stop within a minute of SIGTERM",
        launch.name
    );
    Ok(out)
}

/// The `summary:` (or `totals:`) line of a callgrind output: the instructions counted.
fn total_instructions(callgrind: &str) -> anyhow::Result<u64> {
    for prefix in ["summary:", "totals:"] {
        if let Some(line) = callgrind.lines().find_map(|line| line.strip_prefix(prefix)) {
            let first = line.split_whitespace().next().unwrap_or_default();
            return first.parse().context("a count of instructions");
        }
    }
    bail!("no summary in the callgrind output")
}

/// The figures committed in the repository (`bench/instructions.json`), which CI holds the
/// servers to.
#[derive(Debug, Serialize, Deserialize)]
pub struct Baseline {
    /// Why the figures are what they are: updated with a commit that says why.
    pub why: String,
    pub async_server: f64,
    pub sync_server: f64,
}

/// How much more than the committed figure a server may execute per request.
pub const TOLERANCE: f64 = 1.10;

impl Baseline {
    pub fn read(path: &Path) -> anyhow::Result<Baseline> {
        let text =
            fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("cannot parse {}", path.display()))
    }

    /// The servers that execute more than [`TOLERANCE`] times their committed figure, each with
    /// its figure and the committed one.
    pub fn exceeded<'a>(&self, measured: &[(&'a str, f64)]) -> Vec<(&'a str, f64, f64)> {
        let committed = |server: &str| match server {
            "async-server" => Some(self.async_server),
            "sync-server" => Some(self.sync_server),
            _ => None,
        };
        measured
            .iter()
            .filter_map(|&(server, figure)| {
                let baseline = committed(server)?;
                (figure > baseline * TOLERANCE).then_some((server, figure, baseline))
            })
            .collect()
    }
}

/// Each server whose instructions per request are counted, and what it is held against. A
/// server is counted once however many rows name it.
pub(crate) const COUNTED: [(&str, &str); 8] = [
    ("async-server", "hello-hyper"),
    // The floor that keeps async-server's timeouts: what they cost apart from the rest.
    ("async-server", "hello-hyper-guarded"),
    ("hello-hyper-guarded", "hello-hyper"),
    // The same, carrying the four fields every answer carries: what hyper takes to write them.
    ("async-server", "hello-hyper-guarded --fields"),
    ("hello-hyper-guarded --fields", "hello-hyper-guarded"),
    // What the blocked-loop report costs: the same server without it.
    ("async-server --warn-blocked 0", "hello-hyper-guarded"),
    ("sync-server", "hello-tiny-http"),
    ("hello-tiny-http", "hello-tiny-http"),
];

#[derive(Serialize)]
pub(crate) struct Instructions {
    pub(crate) server: &'static str,
    pub(crate) per_request: f64,
    pub(crate) floor: &'static str,
    /// `per_request` over the floor's.
    pub(crate) ratio: f64,
}

impl Instructions {
    pub(crate) fn new(
        server: &'static str,
        per_request: f64,
        floor: &'static str,
        base: f64,
    ) -> Self {
        Instructions {
            server,
            per_request: per_request.round(),
            floor,
            ratio: per_request / base,
        }
    }
}

/// Instructions per request of every server of [`COUNTED`], each beside its floor's: the figure
/// that does not drift with the machine.
pub(crate) fn count_all(bin: &Path, logs: &Path) -> anyhow::Result<Vec<Instructions>> {
    let mut instructions = Vec::new();
    let count = |name: &'static str| {
        let launch = Launch::ours(bin, name);
        let log = logs.join(format!("{}.callgrind.log", name.replace(' ', "_")));
        let figure = per_request(&launch, &log, logs)?;
        eprintln!("{name}: {figure:.0} instructions per request");
        anyhow::Ok(figure)
    };
    let mut counted = std::collections::BTreeMap::new();
    for (server, floor) in COUNTED {
        for name in [server, floor] {
            if !counted.contains_key(name) {
                counted.insert(name, count(name)?);
            }
        }
        instructions.push(Instructions::new(
            server,
            counted[server],
            floor,
            counted[floor],
        ));
    }
    instructions.push(Instructions::new(
        "hello-hyper",
        counted["hello-hyper"],
        "hello-hyper",
        counted["hello-hyper"],
    ));
    Ok(instructions)
}

/// The regression check: fails when a server executes more than [`TOLERANCE`] times the
/// figure committed in `committed` (`bench/instructions.json`).
pub(crate) fn gate(committed: &Path, instructions: &[Instructions]) -> anyhow::Result<()> {
    let baseline = Baseline::read(committed)?;
    let mut measured: Vec<(&str, f64)> = instructions
        .iter()
        .map(|counted| (counted.server, counted.per_request))
        .collect();
    measured.sort_by_key(|&(server, _)| server);
    measured.dedup_by_key(|&mut (server, _)| server);
    let exceeded = baseline.exceeded(&measured);
    for (server, figure, committed) in &exceeded {
        eprintln!(
            "bench: {server} executes {figure:.0} instructions per request, more than {:.0}% over \
             the {committed:.0} committed in bench/instructions.json",
            (TOLERANCE - 1.0) * 100.0
        );
    }
    anyhow::ensure!(
        exceeded.is_empty(),
        "instructions per request grew; make it cheaper, or commit the new figure saying why"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_is_read_from_callgrinds_summary() {
        let output = "version: 1\ncmd: x\nevents: Ir\nsummary: 123456789\ntotals: 1\n";
        assert_eq!(total_instructions(output).unwrap(), 123_456_789);
        assert_eq!(total_instructions("totals: 42\n").unwrap(), 42);
        assert!(total_instructions("events: Ir\n").is_err());
    }

    #[test]
    fn a_server_over_its_committed_figure_by_more_than_a_tenth_is_named() {
        let baseline = Baseline {
            why: String::new(),
            async_server: 10_000.0,
            sync_server: 20_000.0,
        };
        let fine = [("async-server", 10_900.0), ("sync-server", 15_000.0)];
        assert!(baseline.exceeded(&fine).is_empty());
        let worse = [("async-server", 11_100.0), ("hello-hyper", 99_999.0)];
        assert_eq!(
            baseline.exceeded(&worse),
            [("async-server", 11_100.0, 10_000.0)]
        );
    }
}
