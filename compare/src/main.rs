//! `compare`: runs the seed's experiment against both servers and says which one blocked.
//!
//! It sends each scenario's requests to `sync-server` and `async-server` at once, times every
//! answer, prints a table and a verdict per server, and can write the results as JSON and the
//! timeline as SVG. With `--spawn` it starts both servers itself and stops them afterwards.

mod answer;
mod crowds;
mod held;
mod limit;
mod report;
mod scale;
mod scenario;
mod scenarios;
mod spawn;
mod timeline;
mod verdict;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::{Parser, ValueEnum};
use probe::Target;
use shared::os::cli::{self, Arguments};

use crate::report::{Report, Run, ScenarioReport, METHOD};
use crate::scenario::{Role, Scenario};
use crate::spawn::Servers;

/// Runs the seed's experiment against both servers, with numbers and a timeline.
#[derive(Parser, Debug)]
#[command(name = "compare", version)]
struct Cli {
    /// The experiments to run, in order
    #[arg(value_enum, default_values_t = [Name::Seed])]
    scenarios: Vec<Name>,
    /// The blocking server
    #[arg(long = "sync", value_name = "URL", default_value = "http://127.0.0.1:8000", value_parser = Target::parse)]
    sync_server: Target,
    /// The async server
    #[arg(long = "async", value_name = "URL", default_value = "http://127.0.0.1:8001", value_parser = Target::parse)]
    async_server: Target,
    /// The blocking server with four handler threads, for `threads` and `cores`
    #[arg(long = "threaded", value_name = "URL", default_value = "http://127.0.0.1:8002", value_parser = Target::parse)]
    threaded_server: Target,
    /// The async server with a blocking pool of two threads and a database pool of two, for
    /// `pool` and `db-pool`
    #[arg(long = "pool", value_name = "URL", default_value = "http://127.0.0.1:8003", value_parser = Target::parse)]
    pool_server: Target,
    /// The blocking server with eight handler threads, for `db-pool`
    #[arg(long = "many-threads", value_name = "URL", default_value = "http://127.0.0.1:8004", value_parser = Target::parse)]
    many_threads_server: Target,
    /// The blocking server that `calls` sends `/fetch?via=threads`
    #[arg(long = "via-threads", value_name = "URL", default_value = "http://127.0.0.1:8005", value_parser = Target::parse)]
    via_threads_server: Target,
    /// Start the servers (the binaries built beside this one) on free ports, and stop them after
    #[arg(long, conflicts_with_all = ["sync_server", "async_server", "threaded_server", "pool_server", "many_threads_server", "via_threads_server"])]
    spawn: bool,
    /// The database the spawned servers' /query uses (`query`); without it `--spawn` starts a
    /// throwaway PostgreSQL cluster and removes it after
    #[arg(long, value_name = "URL", requires = "spawn")]
    database: Option<String>,
    /// The upstream the spawned servers' /fetch calls (`fetch`, `calls`, `fetch-scale`);
    /// without it `--spawn` starts an async-server as the upstream
    #[arg(long, value_name = "URL", requires = "spawn")]
    upstream: Option<String>,
    /// Also run the seed's own Django stack (runserver --nothreading, threaded runserver,
    /// uvicorn) in the scenarios that have lanes for it (query, db-pool, db-limit); Django,
    /// uvicorn and psycopg come from PyPI into target/seed-venv
    #[arg(long, requires = "spawn")]
    seed: bool,
    /// Multiply every time (the 5 s sleep, the 2 s offset) by F, for a quicker run
    #[arg(long, value_name = "F", default_value_t = 1.0, value_parser = scale)]
    scale: f64,
    /// How many /sleep requests `fanout` (default 5, at most 1000) and `scale` (default 1000)
    /// send to each server at once
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=20_000))]
    requests: Option<u32>,
    /// Write the results as JSON to FILE
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Draw the timeline as SVG to FILE
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Where `answer` writes its page (and, without --svg, its timeline beside it, as .svg)
    #[arg(long, value_name = "FILE", default_value = "docs/answer.md")]
    page: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Name {
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
    /// What a waiting request costs as their number grows: N/100, N/10 and N (--requests,
    /// default 10000) concurrent 2 s /sleep on sync-server --threads N and async-server (needs
    /// --spawn)
    Growth,
}

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
    let fanout = cli.requests.unwrap_or(5) as usize;
    if cli.scenarios.contains(&Name::Fanout) && fanout > 1000 {
        bail!("fanout sends at most 1000 requests (a client thread each); scale takes up to 20000");
    }
    let scenarios: Vec<Scenario> = cli
        .scenarios
        .iter()
        .flat_map(|name| match name {
            Name::Seed => scenarios::seed(cli.scale).to_vec(),
            Name::Answer => answer::scenarios(cli.scale),
            Name::Query => vec![scenarios::query(cli.scale)],
            Name::Fetch => vec![scenarios::fetch(cli.scale)],
            Name::Calls => vec![scenarios::calls(cli.scale)],
            Name::DbPool => vec![scenarios::db_pool(cli.scale)],
            Name::Fanout => vec![scenarios::fanout(fanout, cli.scale)],
            Name::Threads => vec![scenarios::threads(cli.scale)],
            Name::Block => vec![scenarios::in_async_handler("/block", cli.scale)],
            Name::Offload => vec![scenarios::in_async_handler("/offload", cli.scale)],
            Name::Compute => vec![scenarios::compute(cli.scale)],
            Name::Cores => vec![scenarios::cores(cli.scale)],
            Name::Pool => vec![scenarios::pool(cli.scale)],
            Name::Crowded => vec![scenarios::crowded(cli.scale)],
            Name::Scale | Name::FetchScale | Name::Growth | Name::DbLimit => vec![],
        })
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
    // The spawned servers all get the database when a scenario needs one: the others ignore it.
    let database = match (
        &cli.database,
        scenarios.iter().any(Scenario::needs_database) && cli.spawn,
    ) {
        (Some(url), _) => Some(url.clone()),
        (None, true) => Some(servers.start_database(100)?),
        (None, false) => None,
    };
    // And the upstream, when a scenario fetches: another async-server, never the bottleneck.
    let fetches =
        scenarios.iter().any(Scenario::needs_upstream) || cli.scenarios.contains(&Name::FetchScale);
    let upstream = match (&cli.upstream, fetches && cli.spawn) {
        (Some(url), _) => Some(url.clone()),
        (None, true) => Some(servers.start("async-server", &["--warn-blocked", "0"])?.url),
        (None, false) => None,
    };
    let db_limit = cli.scenarios.contains(&Name::DbLimit);
    if db_limit && !cli.spawn {
        bail!("db-limit starts a database and servers of its own: pass --spawn");
    }
    let seeded = roles.iter().any(|role| role.seed_stack().is_some()) || (db_limit && cli.seed);
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
            match role {
                Role::Sync => cli.sync_server.clone(),
                Role::Async => cli.async_server.clone(),
                Role::SyncThreads => cli.threaded_server.clone(),
                Role::AsyncPool => cli.pool_server.clone(),
                Role::SyncMany => cli.many_threads_server.clone(),
                Role::SyncCallThreads => cli.via_threads_server.clone(),
                Role::DjangoSync | Role::DjangoThreads | Role::DjangoAsync => {
                    bail!("the seed's servers run only with --spawn --seed")
                }
                Role::AsyncLimitPool | Role::SyncLimitThreads => {
                    bail!("db-limit's servers run only with --spawn")
                }
            }
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
    };
    for scenario in &scenarios {
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
        let database_port = database.as_deref().filter(|_| scenario.needs_database());
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
        let result = ScenarioReport::new(scenario, runs);
        println!("{result}");
        report.scenarios.push(result);
    }
    if db_limit {
        let scenario = scenarios::db_limit(cli.scale);
        let scenario = if cli.seed {
            scenario
        } else {
            scenario.without_seed()
        };
        let result = limit::measure(&servers, &scenario, seed)?;
        println!("{result}");
        report.scenarios.push(result);
    }
    if cli.scenarios.contains(&Name::Scale) {
        let requests = cli.requests.unwrap_or(1000) as usize;
        let result = crowds::measure_scale(cli, &servers, &targets, requests)?;
        println!("{result}");
        println!("{}\n", textwrap(scale::METHOD, 96));
        report.scale = Some(result);
    }
    if cli.scenarios.contains(&Name::FetchScale) {
        let requests = cli.requests.unwrap_or(1000) as usize;
        let Some(upstream) = &upstream else {
            bail!("fetch-scale needs an upstream: pass --spawn (and --upstream URL, or not)");
        };
        let result = crowds::measure_fetch_scale(cli, &servers, upstream, requests)?;
        println!("{result}");
        println!("{}\n", textwrap(scale::METHOD, 96));
        report.fetch_scale = Some(result);
    }
    if cli.scenarios.contains(&Name::Growth) {
        let largest = cli.requests.unwrap_or(10_000) as usize;
        for requests in [largest / 100, largest / 10, largest] {
            let result = crowds::measure_growth(cli, &servers, requests.max(1))?;
            println!("{result}");
            report.growth.push(result);
        }
        println!("{}\n", textwrap(scale::METHOD, 96));
    }
    drop(servers);

    println!("{}", textwrap(METHOD, 96));
    let answered = cli.scenarios.contains(&Name::Answer);
    if answered {
        let command = format!(
            "compare {}",
            std::env::args().skip(1).collect::<Vec<_>>().join(" ")
        );
        let picture = cli
            .svg
            .clone()
            .unwrap_or_else(|| cli.page.with_extension("svg"));
        let picture = picture
            .file_name()
            .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
        let machine = format!(
            "{}; compare {}",
            probe::process::machine(scenario::machine_cores()),
            env!("CARGO_PKG_VERSION")
        );
        let pinned =
            std::fs::read_to_string(probe::seed::project(&repository()).join("requirements.txt"));
        let seed_versions: Vec<String> = pinned
            .unwrap_or_default()
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .map(str::to_owned)
            .collect();
        let page = answer::page(
            &report,
            cli.scale,
            (&command, &machine),
            &picture,
            &seed_versions,
        );
        write_file(&cli.page, &page)?;
        println!("{page}\nwrote {}", cli.page.display());
    }
    if let Some(path) = &cli.json {
        let json = serde_json::to_string_pretty(&report).expect("the report serializes");
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    let beside_the_page = answered.then(|| cli.page.with_extension("svg"));
    if let Some(path) = cli.svg.as_ref().or(beside_the_page.as_ref()) {
        svg::save(path, &timeline::draw(&report))
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if !report.all_answered() {
        bail!("not every request was answered; see the verdicts above");
    }
    Ok(())
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
            role.start_hint(),
        )),
    }
}

/// Runs `work`, showing how far it has got while it runs, if a person is watching.
fn with_progress<T: Send>(
    label: &str,
    total: usize,
    answered: &AtomicUsize,
    work: impl FnOnce() -> T + Send,
) -> T {
    let watched = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    let started = Instant::now();
    thread::scope(|scope| {
        let running = scope.spawn(work);
        while watched && !running.is_finished() {
            eprint!(
                "\r{label}: {:.1} s, {} of {total} requests answered ",
                started.elapsed().as_secs_f64(),
                answered.load(Ordering::Relaxed)
            );
            let _ = std::io::stderr().flush();
            thread::sleep(Duration::from_millis(100));
        }
        if watched {
            eprint!("\r\x1b[K");
        }
        running.join().expect("the scenario thread panicked")
    })
}

fn scale(text: &str) -> Result<f64, String> {
    let value: f64 = text.parse().map_err(|_| "not a number".to_owned())?;
    if (0.02..=12.0).contains(&value) {
        Ok(value)
    } else {
        // Below 0.02 the gaps are too short to tell from noise; above 12 a sleep exceeds the
        // servers' default --max-sleep of 60 s.
        Err("must be from 0.02 to 12".to_owned())
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
