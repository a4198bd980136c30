//! The app: what every handler thread serves with, built from the command line apart from the
//! code that serves it.

use anyhow::Context;
use shared::{QueueDeadline, Router, Shutdown, SyncWait};

use crate::db::Database;
use crate::tiny_http_gaps::TinyHttp;
use crate::upstream::Upstream;
use crate::Cli;

/// What every handler thread serves with.
pub struct App {
    pub router: Router<SyncWait>,
    pub shutdown: Shutdown,
    /// Where requests come from and answers go: tiny_http, with what it lacks filled in.
    pub tiny_http: TinyHttp,
    /// The pool of database connections `/query` takes one from.
    pub database: Database,
    /// The client `/fetch` calls the upstream with.
    pub upstream: Upstream,
    /// How long a request may wait in the queue for a handler thread and still be run.
    pub queue_deadline: QueueDeadline,
}

impl App {
    /// The app for `args`, serving what `tiny_http` (bound already) reads. Every handler thread
    /// and the signal handler serve with it until the process ends, so it is never freed.
    pub fn new(args: &Cli, tiny_http: TinyHttp) -> anyhow::Result<&'static App> {
        let limits = args.common.limits();
        let database = match &args.common.database {
            Some(url) => {
                let size = args.db_pool.unwrap_or(args.threads as u32);
                Database::new(url, size, args.common.db_wait).context("cannot use --database")?
            }
            None => Database::none(),
        };
        let upstream = Upstream::new(
            args.common.upstream.as_deref(),
            args.common.upstream_connections,
            args.common.header_timeout,
            limits.max_sleep,
        );
        Ok(Box::leak(Box::new(App {
            router: Router::new(limits).with(args.common.backends()),
            shutdown: Shutdown::new(limits.max_sleep),
            tiny_http,
            database,
            upstream,
            queue_deadline: QueueDeadline(args.common.queue_deadline()),
        })))
    }
}
