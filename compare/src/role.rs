//! The servers the scenarios run on, each a role: what it is, how it is started, and the
//! numbers its flags are built from.

use probe::seed::Stack;

/// A server as the scenarios use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// `sync-server`, one handler thread.
    Sync,
    /// `async-server`, one worker.
    Async,
    /// `sync-server --threads 4`.
    SyncThreads,
    /// `async-server --blocking-threads 2 --db-pool 2`: bounded pools of two.
    AsyncPool,
    /// `sync-server --threads 8`, for `db-pool`: a thread, and a connection, per request.
    SyncMany,
    /// `sync-server` with one handler thread, sent `/fetch?via=threads`, for `calls`: a
    /// scoped thread per call.
    SyncCallThreads,
    /// `async-server --db-pool 10`, for `db-limit`: a pool well inside the database's limit.
    AsyncLimitPool,
    /// `sync-server --threads 30`, for `db-limit`: more threads than the database takes
    /// connections.
    SyncLimitThreads,
    /// The seed's `manage.py runserver --nothreading`, sync views (`--seed`).
    DjangoSync,
    /// The seed's project on Django's default threaded `runserver` (`--seed`).
    DjangoThreads,
    /// The seed's `uvicorn --workers 1`, async views; `/query` awaits `sync_to_async` (`--seed`).
    DjangoAsync,
}

/// How many threads the bounded blocking pool of `pool` has, and how many connections the
/// database pool of `db-pool`.
pub const POOL: usize = 2;

/// How many handler threads the sync server of `db-pool` runs: as many as its queries.
pub const MANY_THREADS: usize = 4 * POOL;

/// The `max_connections` of the cluster `db-limit` starts for itself.
pub const DB_LIMIT: usize = 20;
/// How many `/query` `db-limit` sends at once: half as many again as the database takes.
pub const LIMIT_REQUESTS: usize = DB_LIMIT * 3 / 2;
/// How many more `/query` `db-limit` sends once the burst is over.
pub const LIMIT_LATER: usize = 4;
/// The database pool of `db-limit`'s async-server: well inside the limit.
pub const LIMIT_POOL: usize = DB_LIMIT / 2;

/// How many handler threads the threaded sync server runs, and the `threads` scenario tests.
pub const THREADS: usize = 4;

impl Role {
    /// Its short name, in verdicts and the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Role::Sync => "sync",
            Role::Async => "async",
            Role::SyncThreads => "sync-threads",
            Role::AsyncPool => "async-pool",
            Role::SyncMany => "sync-many",
            Role::SyncCallThreads => "sync-via-threads",
            Role::AsyncLimitPool => "async-pool-10",
            Role::SyncLimitThreads => "sync-threads-30",
            Role::DjangoSync => "django-sync",
            Role::DjangoThreads => "django-threads",
            Role::DjangoAsync => "django-async",
        }
    }

    /// The role of a short name, as [`Role::name`] gives it.
    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.name() == name)
    }

    /// Every role.
    pub const ALL: [Role; 11] = [
        Role::Sync,
        Role::Async,
        Role::SyncThreads,
        Role::AsyncPool,
        Role::SyncMany,
        Role::SyncCallThreads,
        Role::AsyncLimitPool,
        Role::SyncLimitThreads,
        Role::DjangoSync,
        Role::DjangoThreads,
        Role::DjangoAsync,
    ];

    /// The seed's server it is, if it is one of the seed's.
    pub fn seed_stack(self) -> Option<Stack> {
        match self {
            Role::DjangoSync => Some(Stack::Runserver),
            Role::DjangoThreads => Some(Stack::ThreadedRunserver),
            Role::DjangoAsync => Some(Stack::Uvicorn),
            _ => None,
        }
    }

    /// The command that starts it where `compare` looks for it by default.
    pub fn start_hint(self) -> String {
        let port = match self {
            Role::Sync | Role::Async => return format!("cargo run --release -p {}", self.binary()),
            Role::DjangoSync | Role::DjangoThreads | Role::DjangoAsync => {
                return "compare starts the seed's servers itself: pass --spawn --seed".to_owned()
            }
            Role::SyncThreads => 8002,
            Role::AsyncPool => 8003,
            Role::SyncMany => 8004,
            Role::SyncCallThreads => 8005,
            Role::AsyncLimitPool | Role::SyncLimitThreads => {
                return "compare starts db-limit's servers itself: pass --spawn".to_owned()
            }
        };
        let flags = self.flags().join(" ");
        format!(
            "cargo run --release -p {} -- {flags} --port {port}",
            self.binary()
        )
    }

    /// How it runs: its binary and flags.
    pub fn command(self) -> String {
        if let Some(stack) = self.seed_stack() {
            return stack.command().to_owned();
        }
        [self.binary().to_owned()]
            .into_iter()
            .chain(self.flags())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The flags `--spawn` starts it with: its threads and pools, from the counts the
    /// predictions are worked out with.
    pub fn flags(self) -> Vec<String> {
        let flags: Vec<(&str, usize)> = match self {
            Role::Sync | Role::Async | Role::SyncCallThreads => vec![],
            Role::DjangoSync | Role::DjangoThreads | Role::DjangoAsync => vec![],
            Role::SyncThreads => vec![("--threads", THREADS)],
            Role::AsyncPool => vec![("--blocking-threads", POOL), ("--db-pool", POOL)],
            Role::SyncMany => vec![("--threads", MANY_THREADS)],
            Role::AsyncLimitPool => vec![("--db-pool", LIMIT_POOL)],
            Role::SyncLimitThreads => vec![("--threads", LIMIT_REQUESTS)],
        };
        let pairs = flags.into_iter();
        pairs
            .flat_map(|(flag, count)| [flag.to_owned(), count.to_string()])
            .collect()
    }

    /// The binary that runs it (for the seed's, the Python that runs Django).
    pub fn binary(self) -> &'static str {
        match self {
            Role::DjangoSync | Role::DjangoThreads | Role::DjangoAsync => "python",
            Role::Sync
            | Role::SyncThreads
            | Role::SyncMany
            | Role::SyncCallThreads
            | Role::SyncLimitThreads => "sync-server",
            Role::Async | Role::AsyncPool | Role::AsyncLimitPool => "async-server",
        }
    }
}

impl Role {
    /// The server running this role that the command line names, when compare starts none.
    pub fn given(self, cli: &crate::command_line::Cli) -> anyhow::Result<probe::Target> {
        Ok(match self {
            Role::Sync => cli.sync_server.clone(),
            Role::Async => cli.async_server.clone(),
            Role::SyncThreads => cli.threaded_server.clone(),
            Role::AsyncPool => cli.pool_server.clone(),
            Role::SyncMany => cli.many_threads_server.clone(),
            Role::SyncCallThreads => cli.via_threads_server.clone(),
            Role::DjangoSync | Role::DjangoThreads | Role::DjangoAsync => {
                anyhow::bail!("the seed's servers run only with --spawn --seed")
            }
            Role::AsyncLimitPool | Role::SyncLimitThreads => {
                anyhow::bail!("db-limit's servers run only with --spawn")
            }
        })
    }
}
