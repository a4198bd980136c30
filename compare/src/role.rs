//! The servers the scenarios run on, each a role: what it is, how it is started, and the
//! numbers its flags are built from.

use probe::seed::Stack;
use probe::Target;

use crate::command_line::Cli;

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

/// How a role's server runs.
#[derive(Clone, Copy)]
enum Runs {
    /// One of ours: the binary, and its flags with the counts the predictions are worked out
    /// with.
    Ours(&'static str, &'static [(&'static str, usize)]),
    /// One of the seed's.
    Seed(Stack),
}

/// Where compare finds a role's server when it starts none.
#[derive(Clone, Copy)]
enum Found {
    /// At the URL of this flag of the command line.
    At(fn(&Cli) -> &Target),
    /// Nowhere: compare starts it itself, with what `--spawn` needs.
    Spawned(&'static str),
}

/// A role in one row: its name, how it runs, and where it is found.
struct Row {
    role: Role,
    name: &'static str,
    runs: Runs,
    found: Found,
}

/// Every role, in one table: each method below reads its row.
const TABLE: [Row; 11] = [
    Row {
        role: Role::Sync,
        name: "sync",
        runs: Runs::Ours("sync-server", &[]),
        found: Found::At(|cli| &cli.sync_server),
    },
    Row {
        role: Role::Async,
        name: "async",
        runs: Runs::Ours("async-server", &[]),
        found: Found::At(|cli| &cli.async_server),
    },
    Row {
        role: Role::SyncThreads,
        name: "sync-threads",
        runs: Runs::Ours("sync-server", &[("--threads", THREADS)]),
        found: Found::At(|cli| &cli.threaded_server),
    },
    Row {
        role: Role::AsyncPool,
        name: "async-pool",
        runs: Runs::Ours(
            "async-server",
            &[("--blocking-threads", POOL), ("--db-pool", POOL)],
        ),
        found: Found::At(|cli| &cli.pool_server),
    },
    Row {
        role: Role::SyncMany,
        name: "sync-many",
        runs: Runs::Ours("sync-server", &[("--threads", MANY_THREADS)]),
        found: Found::At(|cli| &cli.many_threads_server),
    },
    Row {
        role: Role::SyncCallThreads,
        name: "sync-via-threads",
        runs: Runs::Ours("sync-server", &[]),
        found: Found::At(|cli| &cli.via_threads_server),
    },
    Row {
        role: Role::AsyncLimitPool,
        name: "async-pool-10",
        runs: Runs::Ours("async-server", &[("--db-pool", LIMIT_POOL)]),
        found: Found::Spawned("db-limit's servers run only with --spawn"),
    },
    Row {
        role: Role::SyncLimitThreads,
        name: "sync-threads-30",
        runs: Runs::Ours("sync-server", &[("--threads", LIMIT_REQUESTS)]),
        found: Found::Spawned("db-limit's servers run only with --spawn"),
    },
    Row {
        role: Role::DjangoSync,
        name: "django-sync",
        runs: Runs::Seed(Stack::Runserver),
        found: Found::Spawned("the seed's servers run only with --spawn --seed"),
    },
    Row {
        role: Role::DjangoThreads,
        name: "django-threads",
        runs: Runs::Seed(Stack::ThreadedRunserver),
        found: Found::Spawned("the seed's servers run only with --spawn --seed"),
    },
    Row {
        role: Role::DjangoAsync,
        name: "django-async",
        runs: Runs::Seed(Stack::Uvicorn),
        found: Found::Spawned("the seed's servers run only with --spawn --seed"),
    },
];

impl Role {
    fn row(self) -> &'static Row {
        TABLE
            .iter()
            .find(|row| row.role == self)
            .expect("every role has a row")
    }

    /// Its short name, in verdicts and the JSON.
    pub fn name(self) -> &'static str {
        self.row().name
    }

    /// The role of a short name, as [`Role::name`] gives it.
    pub fn from_name(name: &str) -> Option<Role> {
        TABLE
            .iter()
            .find(|row| row.name == name)
            .map(|row| row.role)
    }

    /// The seed's server it is, if it is one of the seed's.
    pub fn seed_stack(self) -> Option<Stack> {
        match self.row().runs {
            Runs::Seed(stack) => Some(stack),
            Runs::Ours(..) => None,
        }
    }

    /// How to start it where compare looked for it, on `port`.
    pub fn start_hint(self, port: u16) -> String {
        if let Found::Spawned(why) = self.row().found {
            return format!("{why}; or pass it");
        }
        let flags = self.flags().join(" ");
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!("{flags} ")
        };
        format!(
            "cargo run --release -p {} -- {flags}--port {port}",
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
        let Runs::Ours(_, flags) = self.row().runs else {
            return Vec::new();
        };
        flags
            .iter()
            .flat_map(|(flag, count)| [(*flag).to_owned(), count.to_string()])
            .collect()
    }

    /// The binary that runs it (for the seed's, the Python that runs Django).
    pub fn binary(self) -> &'static str {
        match self.row().runs {
            Runs::Ours(binary, _) => binary,
            Runs::Seed(_) => "python",
        }
    }

    /// The server running this role that the command line names, when compare starts none.
    pub fn given(self, cli: &Cli) -> anyhow::Result<Target> {
        match self.row().found {
            Found::At(flag) => Ok(flag(cli).clone()),
            Found::Spawned(why) => anyhow::bail!("{why}"),
        }
    }
}
