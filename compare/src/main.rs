//! `compare`: runs the seed's experiment against both servers and says which one blocked.
//!
//! It sends each scenario's requests to `sync-server` and `async-server` at once, times every
//! answer, prints a table and a verdict per server, and can write the results as JSON and the
//! timeline as SVG. With `--spawn` it starts both servers itself and stops them afterwards.

mod answer;
mod command_line;
mod crowd_experiments;
mod experiment;
mod experiments;
mod held;
mod limit;
mod overload;
mod predictions;
mod progress;
mod report;
mod role;
mod scale;
mod scenario;
mod spawn;
mod timeline;
mod traffic;
mod verdict;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicUsize;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use probe::Target;
use shared::os::cli::{self, Arguments};

use crate::command_line::Cli;
use crate::experiment::Measuring;
use crate::progress::with_progress;
use crate::report::{Report, Run, ScenarioReport, METHOD};
use crate::role::Role;
use crate::scenario::Scenario;
use crate::spawn::Servers;

impl Arguments for Cli {}

fn main() -> ExitCode {
    let args = match cli::parse() {
        Ok(args) => args,
        Err(exit) => return exit,
    };
    let outcome = run(&args);
    if spawn::interrupted() {
        eprintln!("\ncompare: interrupted");
        return ExitCode::from(130);
    }
    cli::finish(outcome)
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    let experiments = &cli.scenarios;
    for experiment in experiments {
        experiment.check(cli)?;
    }
    let scenarios: Vec<Scenario> = experiments
        .iter()
        .flat_map(|experiment| experiment.scenarios(cli))
        .map(|scenario| {
            if cli.seed {
                scenario
            } else {
                scenario.without_seed()
            }
        })
        .collect();
    let roles: BTreeSet<Role> = scenarios.iter().flat_map(Scenario::roles).collect();

    // Dropped (so the servers stopped) on every way out of this function, panics included.
    let servers = Servers::new()?;
    // The spawned servers all get the database when an experiment needs one: the others ignore
    // it. And the upstream, when one fetches: another async-server, never the bottleneck.
    let needs_database = scenarios.iter().any(Scenario::needs_database)
        || experiments.iter().any(|e| e.needs_database(cli));
    let database = match (&cli.database, needs_database && cli.spawn) {
        (Some(url), _) => Some(url.clone()),
        (None, true) => Some(servers.start_database(100)?),
        (None, false) => None,
    };
    let needs_upstream = scenarios.iter().any(Scenario::needs_upstream)
        || experiments.iter().any(|e| e.needs_upstream(cli));
    let upstream = match (&cli.upstream, needs_upstream && cli.spawn) {
        (Some(url), _) => Some(url.clone()),
        (None, true) => Some(servers.start("async-server", &["--warn-blocked", "0"])?.url),
        (None, false) => None,
    };
    let seeded = roles.iter().any(|role| role.seed_stack().is_some())
        || experiments.iter().any(|e| e.needs_seed(cli));
    let seed_python = if seeded {
        Some(probe::seed::python(&repository()).map_err(|error| anyhow!(error))?)
    } else {
        None
    };
    let seed_project = probe::seed::project(&repository());
    let seed = seed_python
        .as_deref()
        .map(|python| (python, seed_project.as_path()));
    let mut targets = BTreeMap::new();
    for role in roles {
        let target = if cli.spawn {
            servers.start_role(role, seed, database.as_deref(), upstream.as_deref())?
        } else {
            role.given(cli)?
        };
        reachable(role, &target)?;
        targets.insert(role, target);
    }

    let mut report = Report {
        method: METHOD,
        scenarios: Vec::new(),
        scale: None,
        fetch_scale: None,
        growth: Vec::new(),
        traffic: None,
        overload: None,
    };
    for scenario in &scenarios {
        let result = run_scenario(scenario, &servers, &targets, database.as_deref());
        println!("{result}");
        report.scenarios.push(result);
    }
    let context = Measuring {
        cli,
        servers: &servers,
        targets: &targets,
        database: database.as_deref(),
        upstream: upstream.as_deref(),
        seed,
    };
    for experiment in experiments {
        experiment.measure(&context, &mut report)?;
    }
    drop(servers);

    println!("{}", textwrap(METHOD, 96));
    for experiment in experiments {
        experiment.write(cli, &report)?;
    }
    if let Some(path) = &cli.json {
        let json = serde_json::to_string_pretty(&report).expect("the report serializes");
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    let beside_a_page = experiments.iter().find_map(|e| e.timeline_beside(cli));
    if let Some(path) = cli.svg.as_ref().or(beside_a_page.as_ref()) {
        svg::save(path, &timeline::draw(&report))
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if !report.all_answered() {
        bail!("not every request was answered; see the verdicts above");
    }
    Ok(())
}

/// Runs one scenario on the servers of its lanes, while reading what each holds; its report.
fn run_scenario(
    scenario: &Scenario,
    servers: &Servers,
    targets: &BTreeMap<Role, Target>,
    database: Option<&str>,
) -> ScenarioReport {
    let answered = AtomicUsize::new(0);
    let chosen: Vec<(Role, &Target)> = scenario
        .roles()
        .map(|role| (role, &targets[&role]))
        .collect();
    let total = chosen
        .iter()
        .map(|&(role, _)| scenario.requests_for(role).len())
        .sum();
    let pids: Vec<Option<u32>> = chosen.iter().map(|(_, t)| servers.pid(&t.url)).collect();
    let database_port = database.filter(|_| scenario.needs_database());
    let database_port = database_port.and_then(pgcluster::port_of);
    let (measured, held) = with_progress(&scenario.name, total, &answered, || {
        held::while_running(&pids, database_port, || {
            if scenario.apart {
                let one_at_a_time = chosen.iter().map(|&one| {
                    let measured = scenario::run(scenario, &[one], &answered);
                    measured
                        .into_iter()
                        .next()
                        .expect("one server's measurements")
                });
                one_at_a_time.collect()
            } else {
                scenario::run(scenario, &chosen, &answered)
            }
        })
    });
    // A held runtime's last BLOCKED line follows its release by a heartbeat or two.
    thread::sleep(Duration::from_millis(100));
    let runs = chosen
        .iter()
        .zip(measured)
        .zip(held)
        .map(|((&(role, target), requests), held)| Run {
            role,
            url: target.url.clone(),
            requests,
            blocked_lines: servers.blocked_lines(&target.url),
            held,
        })
        .collect();
    ScenarioReport::new(scenario, runs)
}

/// The repository this binary was built from: the seed's project is in it.
fn repository() -> PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_owned()
}

/// Checks that a server answers at all before timing it, for a clear message if it does not.
fn reachable(role: Role, server: &Target) -> anyhow::Result<()> {
    match server.get("/nosleep", Instant::now() + Duration::from_secs(3)) {
        Ok(_) => Ok(()),
        Err(failure) => Err(anyhow!(
            "{} at {} does not answer ({failure}); start it ({}) or pass --spawn",
            role.command(),
            server.url,
            role.start_hint(server.addr.port()),
        )),
    }
}

/// Writes `text` to `path`, making its folder if need be.
fn write_file(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    if let Some(folder) = path
        .parent()
        .filter(|folder| !folder.as_os_str().is_empty())
    {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("cannot create {}", folder.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Breaks `text` into lines of at most `width` characters, at spaces.
fn textwrap(text: &str, width: usize) -> String {
    report::wrap(text, width).join("\n")
}
