//! `compare`: runs the seed's experiment against both servers and says which one blocked.
//!
//! It sends each scenario's requests to `sync-server` and `async-server` at once, times every
//! answer, prints a table and a verdict per server, and can write the results as JSON and the
//! timeline as SVG. With `--spawn` it starts both servers itself and stops them afterwards.

mod answer;
mod command_line;
mod crowd_experiments;
mod experiments;
mod held;
mod limit;
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

use crate::command_line::{Cli, Name};
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
    let fanout = cli.requests.unwrap_or(5) as usize;
    if cli.scenarios.contains(&Name::Fanout) && fanout > 1000 {
        bail!("fanout sends at most 1000 requests (a client thread each); scale takes up to 20000");
    }
    let scenarios: Vec<Scenario> = cli
        .scenarios
        .iter()
        .flat_map(|name| match name {
            Name::Seed => experiments::seed(cli.scale).to_vec(),
            Name::Answer => answer::scenarios(cli.scale),
            Name::Query => vec![experiments::query(cli.scale)],
            Name::Fetch => vec![experiments::fetch(cli.scale)],
            Name::Calls => vec![experiments::calls(cli.scale)],
            Name::DbPool => vec![experiments::db_pool(cli.scale)],
            Name::Fanout => vec![experiments::fanout(fanout, cli.scale)],
            Name::Threads => vec![experiments::threads(cli.scale)],
            Name::Block => vec![experiments::in_async_handler("/block", cli.scale)],
            Name::Offload => vec![experiments::in_async_handler("/offload", cli.scale)],
            Name::Compute => vec![experiments::compute(cli.scale)],
            Name::Cores => vec![experiments::cores(cli.scale)],
            Name::Pool => vec![experiments::pool(cli.scale)],
            Name::Crowded => vec![experiments::crowded(cli.scale)],
            Name::Scale | Name::FetchScale | Name::Growth | Name::DbLimit | Name::Load => vec![],
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

    let workloads = if cli.workloads.is_empty() {
        traffic::Workload::ALL.to_vec()
    } else {
        cli.workloads.clone()
    };
    let loading = cli.scenarios.contains(&Name::Load);
    let loads_the =
        |needs: fn(traffic::Workload) -> bool| loading && workloads.iter().any(|w| needs(*w));
    if loading && !cli.spawn {
        bail!("load starts a fresh server for every step: pass --spawn");
    }
    // Dropped (so the servers stopped) on every way out of this function, panics included.
    let servers = Servers::new()?;
    // The spawned servers all get the database when a scenario needs one: the others ignore it.
    let database = match (
        &cli.database,
        (scenarios.iter().any(Scenario::needs_database)
            || loads_the(traffic::Workload::needs_database))
            && cli.spawn,
    ) {
        (Some(url), _) => Some(url.clone()),
        (None, true) => Some(servers.start_database(100)?),
        (None, false) => None,
    };
    // And the upstream, when a scenario fetches: another async-server, never the bottleneck.
    let fetches = scenarios.iter().any(Scenario::needs_upstream)
        || cli.scenarios.contains(&Name::FetchScale)
        || loads_the(traffic::Workload::needs_upstream);
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
        let scenario = experiments::db_limit(cli.scale);
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
        let result = crowd_experiments::measure_scale(cli, &servers, &targets, requests)?;
        println!("{result}");
        println!("{}\n", textwrap(scale::METHOD, 96));
        report.scale = Some(result);
    }
    if cli.scenarios.contains(&Name::FetchScale) {
        let requests = cli.requests.unwrap_or(1000) as usize;
        let Some(upstream) = &upstream else {
            bail!("fetch-scale needs an upstream: pass --spawn (and --upstream URL, or not)");
        };
        let result = crowd_experiments::measure_fetch_scale(cli, &servers, upstream, requests)?;
        println!("{result}");
        println!("{}\n", textwrap(scale::METHOD, 96));
        report.fetch_scale = Some(result);
    }
    if cli.scenarios.contains(&Name::Growth) {
        let largest = cli.requests.unwrap_or(10_000) as usize;
        for requests in [largest / 100, largest / 10, largest] {
            let result = crowd_experiments::measure_growth(cli, &servers, requests.max(1))?;
            println!("{result}");
            report.growth.push(result);
        }
        println!("{}\n", textwrap(scale::METHOD, 96));
    }
    let traffic = if loading {
        let duration = cli
            .duration
            .unwrap_or(Duration::from_secs(10).mul_f64(cli.scale));
        let backends = traffic::Backends {
            database: database.as_deref(),
            upstream: upstream.as_deref(),
        };
        let measured = traffic::measure(&servers, &workloads, cli.scale, duration, &backends)?;
        println!("{}\n", textwrap(traffic::METHOD, 96));
        Some(measured)
    } else {
        None
    };
    drop(servers);
    if let Some(traffic) = &traffic {
        let machine = probe::process::machine(scenario::machine_cores());
        let page = traffic::page(traffic, &command_line_text(), &machine);
        write_file(&cli.load_page, &page)?;
        let picture = cli.load_page.with_extension("svg");
        svg::save(&picture, &traffic::draw(traffic))
            .with_context(|| format!("cannot write {}", picture.display()))?;
        println!(
            "wrote {} and {}",
            cli.load_page.display(),
            picture.display()
        );
    }

    println!("{}", textwrap(METHOD, 96));
    let answered = cli.scenarios.contains(&Name::Answer);
    if answered {
        let command = command_line_text();
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

/// This run's command line, as a page says what wrote it.
fn command_line_text() -> String {
    format!(
        "compare {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    )
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
