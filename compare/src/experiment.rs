//! The one interface every experiment of compare goes through. An experiment may send scenarios
//! through the common runner ([`Name::scenarios`]), measure something of its own once they have
//! run ([`Name::measure`]), and write a page of its own once the servers are stopped
//! ([`Name::write`]); and it says what it needs: a database, an upstream, servers of its own.
//! `main`'s `run` asks each experiment the same questions and picks none out by name.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context as _};

use crate::command_line::{Cli, Name};
use crate::report::Report;
use crate::scenario::{self, Scenario};
use crate::spawn::Servers;
use crate::{
    answer, crowd_experiments, experiments, limit, overload, scale, textwrap, traffic, write_file,
};

/// What the experiments measure with, once the servers are up.
pub struct Measuring<'a> {
    pub cli: &'a Cli,
    pub servers: &'a Servers,
    pub targets: &'a std::collections::BTreeMap<crate::role::Role, probe::Target>,
    pub database: Option<&'a str>,
    pub upstream: Option<&'a str>,
    /// The seed's Python and project, when its servers run.
    pub seed: Option<(&'a Path, &'a Path)>,
}

impl Name {
    /// The scenarios it sends through the common runner (none, for those that measure on
    /// their own).
    pub fn scenarios(self, cli: &Cli) -> Vec<Scenario> {
        let scale = cli.scale;
        let fanout = cli.requests.unwrap_or(5) as usize;
        match self {
            Name::Seed => experiments::seed(scale).to_vec(),
            Name::Answer => answer::scenarios(scale),
            Name::Query => vec![experiments::query(scale)],
            Name::Fetch => vec![experiments::fetch(scale)],
            Name::Calls => vec![experiments::calls(scale)],
            Name::DbPool => vec![experiments::db_pool(scale)],
            Name::Fanout => vec![experiments::fanout(fanout, scale)],
            Name::Threads => vec![experiments::threads(scale)],
            Name::Block => vec![experiments::in_async_handler("/block", scale)],
            Name::Offload => vec![experiments::in_async_handler("/offload", scale)],
            Name::Compute => vec![experiments::compute(scale)],
            Name::Cores => vec![experiments::cores(scale)],
            Name::Pool => vec![experiments::pool(scale)],
            Name::Crowded => vec![experiments::crowded(scale)],
            Name::Scale
            | Name::FetchScale
            | Name::Growth
            | Name::DbLimit
            | Name::Load
            | Name::Overload => vec![],
        }
    }

    /// What is wrong with running it as asked, if anything.
    pub fn check(self, cli: &Cli) -> anyhow::Result<()> {
        let own_servers = match self {
            Name::DbLimit => Some("db-limit starts a database and servers of its own"),
            Name::Load => Some("load starts a fresh server for every step"),
            Name::Overload => Some("overload starts a fresh server for every design"),
            _ => None,
        };
        if let (Some(why), false) = (own_servers, cli.spawn) {
            bail!("{why}: pass --spawn");
        }
        if self == Name::Fanout && cli.requests.unwrap_or(5) > 1000 {
            bail!("fanout sends at most 1000 requests (a client thread each); scale takes up to 20000");
        }
        Ok(())
    }

    /// Whether what it measures on its own needs the database, or an upstream (what its
    /// scenarios need, they say themselves).
    pub fn needs_database(self, cli: &Cli) -> bool {
        self == Name::Load && workloads(cli).iter().any(|w| w.needs_database())
    }

    pub fn needs_upstream(self, cli: &Cli) -> bool {
        match self {
            Name::FetchScale => true,
            Name::Load => workloads(cli).iter().any(|w| w.needs_upstream()),
            _ => false,
        }
    }

    /// Whether it runs the seed's servers besides those of its scenarios.
    pub fn needs_seed(self, cli: &Cli) -> bool {
        matches!(self, Name::DbLimit | Name::Load | Name::Overload) && cli.seed
    }

    /// Measures what it measures on its own, after the scenarios, into `report`.
    pub fn measure(self, context: &Measuring, report: &mut Report) -> anyhow::Result<()> {
        let (cli, servers) = (context.cli, context.servers);
        match self {
            Name::DbLimit => {
                let scenario = experiments::db_limit(cli.scale);
                let scenario = if cli.seed {
                    scenario
                } else {
                    scenario.without_seed()
                };
                let result = limit::measure(servers, &scenario, context.seed)?;
                println!("{result}");
                report.scenarios.push(result);
            }
            Name::Scale => {
                let requests = cli.requests.unwrap_or(1000) as usize;
                let result =
                    crowd_experiments::measure_scale(cli, servers, context.targets, requests)?;
                println!("{result}\n{}\n", textwrap(scale::METHOD, 96));
                report.scale = Some(result);
            }
            Name::FetchScale => {
                let requests = cli.requests.unwrap_or(1000) as usize;
                let Some(upstream) = context.upstream else {
                    bail!(
                        "fetch-scale needs an upstream: pass --spawn (and --upstream URL, or not)"
                    );
                };
                let upstream = upstream.to_owned();
                let result =
                    crowd_experiments::measure_fetch_scale(cli, servers, &upstream, requests)?;
                println!("{result}\n{}\n", textwrap(scale::METHOD, 96));
                report.fetch_scale = Some(result);
            }
            Name::Growth => {
                let largest = cli.requests.unwrap_or(10_000) as usize;
                for requests in [largest / 100, largest / 10, largest] {
                    let result = crowd_experiments::measure_growth(cli, servers, requests.max(1))?;
                    println!("{result}");
                    report.growth.push(result);
                }
                println!("{}\n", textwrap(scale::METHOD, 96));
            }
            Name::Load => {
                let duration = cli
                    .duration
                    .unwrap_or(Duration::from_secs(10).mul_f64(cli.scale));
                let backends = traffic::Backends {
                    database: context.database,
                    upstream: context.upstream,
                    seed: context.seed,
                };
                let workloads = workloads(cli);
                let measured =
                    traffic::measure(servers, &workloads, cli.scale, duration, &backends)?;
                println!("{}\n", textwrap(traffic::METHOD, 96));
                report.traffic = Some(measured);
            }
            Name::Overload => {
                let settings = overload::Settings {
                    period: cli
                        .duration
                        .unwrap_or(Duration::from_secs(10).mul_f64(cli.scale)),
                    scale: cli.scale,
                    client_timeout: cli.client_timeout,
                    retries: cli.retries,
                };
                let measured = overload::measure(servers, settings, context.seed)?;
                println!("{}\n", textwrap(overload::METHOD, 96));
                report.overload = Some(measured);
            }
            _ => {}
        }
        Ok(())
    }

    /// Writes its page, once the servers are stopped (`answer`, `load`, `overload`).
    pub fn write(self, cli: &Cli, report: &Report) -> anyhow::Result<()> {
        let command = format!(
            "compare {}",
            std::env::args().skip(1).collect::<Vec<_>>().join(" ")
        );
        let machine = probe::process::machine(scenario::machine_cores());
        match self {
            Name::Answer => {
                let picture = cli
                    .svg
                    .clone()
                    .unwrap_or_else(|| cli.page.with_extension("svg"));
                let picture = picture
                    .file_name()
                    .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
                let machine = format!("{machine}; compare {}", env!("CARGO_PKG_VERSION"));
                let project = probe::seed::project(&crate::repository());
                let pinned = std::fs::read_to_string(project.join("requirements.txt"));
                let seed_versions: Vec<String> = pinned
                    .unwrap_or_default()
                    .lines()
                    .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
                    .map(str::to_owned)
                    .collect();
                let page = answer::page(
                    report,
                    cli.scale,
                    (&command, &machine),
                    &picture,
                    &seed_versions,
                );
                write_file(&cli.page, &page)?;
                println!("{page}\nwrote {}", cli.page.display());
            }
            Name::Load => {
                let Some(traffic) = &report.traffic else {
                    return Ok(());
                };
                let page = traffic::page(traffic, &command, &machine);
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
            Name::Overload => {
                let Some(overload) = &report.overload else {
                    return Ok(());
                };
                let page = overload::page(overload, &command, &machine);
                write_file(&cli.overload_page, &page)?;
                let picture = cli.overload_page.with_extension("svg");
                svg::save(&picture, &overload::draw(overload))
                    .with_context(|| format!("cannot write {}", picture.display()))?;
                println!(
                    "wrote {} and {}",
                    cli.overload_page.display(),
                    picture.display()
                );
            }
            _ => {}
        }
        Ok(())
    }

    /// The picture of the timeline it draws beside its page, if it has one and `--svg` names
    /// none.
    pub fn timeline_beside(self, cli: &Cli) -> Option<std::path::PathBuf> {
        (self == Name::Answer).then(|| cli.page.with_extension("svg"))
    }
}

/// The workloads `load` sweeps: those named, or all.
fn workloads(cli: &Cli) -> Vec<traffic::Workload> {
    if cli.workloads.is_empty() {
        traffic::Workload::ALL.to_vec()
    } else {
        cli.workloads.clone()
    }
}
