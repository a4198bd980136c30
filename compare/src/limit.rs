//! `db-limit`: more `/query` at once than a database takes connections. It needs a database
//! of its own, with a `max_connections` it chooses, and each server alone on it: a server's
//! connections stay open after its requests (that is what a pool, or Django's persistent
//! connections, are for), and would take the next server's places. So each server is started,
//! measured and stopped in turn, and the next one starts once the database has seen the last
//! one's connections close.

use std::path::Path;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use anyhow::Context;

use crate::held;
use crate::report::{Run, ScenarioReport};
use crate::role::DB_LIMIT;
use crate::scenario::{self, Scenario};
use crate::spawn::Servers;

/// Runs `scenario` (`db-limit`) on a throwaway cluster of its own, one server after another;
/// `seed` (the seed's python and project) runs the seed's servers among them.
pub fn measure(
    servers: &Servers,
    scenario: &Scenario,
    seed: Option<(&Path, &Path)>,
) -> anyhow::Result<ScenarioReport> {
    let database = servers.start_database(DB_LIMIT as u32)?;
    let port = pgcluster::port_of(&database);
    let mut runs = Vec::new();
    for role in scenario.roles() {
        let target = servers.start_role(role, seed, Some(&database), None)?;
        let pid = servers.pid(&target.url);
        let answered = AtomicUsize::new(0);
        let (measured, held) = held::while_running(&[pid], port, || {
            scenario::run(scenario, &[(role, &target)], &answered)
        });
        servers.stop(&target);
        servers
            .await_no_clients(&database, Duration::from_secs(10))
            .context("db-limit: the last server's connections did not close")?;
        runs.push(Run {
            role,
            url: target.url.clone(),
            requests: measured.into_iter().next().expect("one server's requests"),
            blocked_lines: servers.blocked_lines(&target.url),
            held: held.into_iter().next().flatten(),
        });
    }
    Ok(ScenarioReport::new(scenario, runs))
}
