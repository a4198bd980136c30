//! The app: what every connection of every worker is served with, built from the command line
//! apart from the code that serves it.

use std::time::Duration;

use anyhow::Context;
use shared::{AsyncWait, QueueDeadline, Router, Shutdown};
use tokio::sync::Semaphore;

use crate::db::Database;
use crate::upstream::Upstream;
use crate::watchdog::Watchdog;
use crate::Cli;

/// What every connection of every worker is served with.
pub struct App {
    pub router: Router<AsyncWait>,
    pub shutdown: Shutdown,
    /// How long a client may take to send a request head, and to take in an answer.
    pub header_timeout: Duration,
    /// One permit per connection being served, across all workers.
    pub connections: Semaphore,
    /// The most threads tokio's blocking pool may run at once, for each worker.
    pub blocking_threads: usize,
    /// What reports a runtime thread kept from its event loop (`None`: `--warn-blocked 0`).
    pub watchdog: Option<Watchdog>,
    /// How long `/offload` work may wait for a thread of the blocking pool and still be run.
    pub queue_deadline: QueueDeadline,
    /// Where `/query` gets a database connection.
    pub database: Database,
    /// What `/fetch` calls.
    pub upstream: Upstream,
}

impl App {
    /// The app for `args`, with its watchdog started. Every worker serves with it until the
    /// process ends, so it is never freed.
    pub fn new(args: &Cli) -> anyhow::Result<&'static App> {
        let limits = args.common.limits();
        let database = match &args.common.database {
            Some(url) => Database::new(url, args.db_pool as usize, args.common.db_wait)
                .context("cannot use --database")?,
            None => Database::none(),
        };
        let app: &'static App = Box::leak(Box::new(App {
            router: Router::new(limits).with(args.common.backends()),
            database,
            upstream: Upstream::new(
                args.common.upstream.as_deref(),
                args.common.upstream_connections,
                args.common.header_timeout,
                limits.max_sleep,
            ),
            shutdown: Shutdown::new(limits.max_sleep),
            header_timeout: args.common.header_timeout,
            connections: Semaphore::new(args.common.max_connections as usize),
            blocking_threads: args.blocking_threads as usize,
            queue_deadline: QueueDeadline(args.common.queue_deadline()),
            watchdog: (args.warn_blocked > 0)
                .then(|| Watchdog::new(Duration::from_millis(args.warn_blocked))),
        }));
        if let Some(watchdog) = &app.watchdog {
            watchdog.start().context("cannot start the watchdog")?;
        }
        Ok(app)
    }
}
