//! The database, for `/query`: PostgreSQL through the async client (`tokio-postgres`), from a
//! bounded pool (`deadpool-postgres`) of at most `--db-pool` connections for each worker. A
//! request waits for a free connection at most `--db-wait`; while the database works, the
//! request's task is set aside and the thread runs other tasks, as it does for a timer. The
//! statement is prepared once per connection (the pool keeps each connection's statements).
//!
//! `/offload?work=query` is the other way, Django's `sync_to_async` around the ORM: the blocking
//! client (`postgres`) on a thread of tokio's blocking pool, each thread keeping a connection of
//! its own, as Django keeps one per thread.

use std::cell::OnceCell;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use shared::cause_of;
use tokio::time::Instant;
use tokio_postgres::NoTls;

/// The statement of `/query`: the database waits `$1` seconds, then names its backend process.
const STATEMENT: &str = "SELECT pg_backend_pid() FROM pg_sleep($1)";

/// How to reach the database, shared by every worker.
pub struct Database {
    config: Option<tokio_postgres::Config>,
    /// The most connections each worker's pool holds.
    size: usize,
    /// The longest a request waits for a connection.
    wait: Duration,
}

thread_local! {
    /// Each worker's pool: its connections' tasks run on that worker's runtime, its one thread.
    static POOL: OnceCell<Pool> = const { OnceCell::new() };
    /// A blocking-pool thread's own connection, for `/offload?work=query`.
    static BLOCKING: std::cell::RefCell<Option<(postgres::Client, postgres::Statement)>> =
        const { std::cell::RefCell::new(None) };
}

impl Database {
    /// No database: `/query` is answered `503` before it reaches here.
    pub fn none() -> Database {
        Database {
            config: None,
            size: 0,
            wait: Duration::ZERO,
        }
    }

    /// Pools of at most `size` connections to `url`, one for each worker, opened as requests
    /// need them; a request waits at most `wait` for one.
    pub fn new(url: &str, size: usize, wait: Duration) -> anyhow::Result<Database> {
        let mut config: tokio_postgres::Config = url.parse()?;
        config.connect_timeout(wait).keepalives(true);
        Ok(Database {
            config: Some(config),
            size,
            wait,
        })
    }

    /// Runs the statement, the database waiting `seconds`, awaited: the backend's process id,
    /// or why the database could not answer (at most `--db-wait` after the wait was due).
    pub async fn query(&self, seconds: Duration) -> Result<u32, String> {
        let pool = self.pool()?;
        // One timer bounds each step in turn: `--db-wait` for a connection (a free one, or a new
        // one opened), then the query's own seconds plus `--db-wait` for its answer. Moving a
        // timer's deadline later costs next to nothing; a timer per step would be set and
        // cancelled for nearly every request, which waits for the pool under load.
        let deadline = tokio::time::sleep(self.wait);
        tokio::pin!(deadline);
        // A connection kept from before the database went away fails at its first use; the
        // pool drops it, and the request tries once more on a new one.
        let mut retried = false;
        loop {
            let client = tokio::select! {
                biased;
                got = pool.get() => got.map_err(|error| {
                    format!("no connection within --db-wait: {}", cause_of(&error))
                })?,
                () = &mut deadline => return Err("no connection within --db-wait".to_owned()),
            };
            deadline
                .as_mut()
                .reset(Instant::now() + seconds + self.wait);
            let asked = async {
                let statement = client.prepare_cached(STATEMENT).await?;
                client
                    .query_one(&statement, &[&seconds.as_secs_f64()])
                    .await
            };
            let answered = tokio::select! {
                biased;
                answered = asked => answered,
                () = &mut deadline => {
                    return Err("no answer from the database within --db-wait".to_owned())
                }
            };
            match answered {
                Ok(row) => return Ok(row.get::<_, i32>(0) as u32),
                Err(_) if !retried && client.is_closed() => {
                    retried = true;
                    deadline.as_mut().reset(Instant::now() + self.wait);
                }
                Err(error) => return Err(format!("the query failed: {}", cause_of(&error))),
            }
        }
    }

    /// The same statement with the blocking client, on the calling thread (one of the blocking
    /// pool's), over that thread's own connection.
    pub fn query_blocking(&self, seconds: Duration) -> Result<u32, String> {
        let Some(config) = &self.config else {
            return Err("no database configured".to_owned());
        };
        BLOCKING.with_borrow_mut(|kept| {
            let mut retried = false;
            loop {
                if kept.is_none() {
                    let mut client = postgres::Config::from(config.clone())
                        .connect(postgres::NoTls)
                        .map_err(|error| format!("cannot connect: {}", cause_of(&error)))?;
                    let statement = client
                        .prepare(STATEMENT)
                        .map_err(|error| format!("cannot prepare: {}", cause_of(&error)))?;
                    *kept = Some((client, statement));
                }
                let (client, statement) = kept.as_mut().expect("just connected");
                match client.query_one(&*statement, &[&seconds.as_secs_f64()]) {
                    Ok(row) => return Ok(row.get::<_, i32>(0) as u32),
                    Err(error) => {
                        let closed = client.is_closed();
                        *kept = None;
                        if retried || !closed {
                            return Err(format!("the query failed: {}", cause_of(&error)));
                        }
                        retried = true;
                    }
                }
            }
        })
    }

    /// Closes this worker's pooled connections, each saying goodbye to its backend: at shutdown,
    /// once the worker's requests are answered. (A blocking-pool thread's own connection closes
    /// when the runtime ends the thread.)
    pub fn close_this_workers(&self) {
        POOL.with(|pool| {
            if let Some(pool) = pool.get() {
                pool.close();
            }
        });
    }

    /// This worker's pool, made on first use.
    fn pool(&self) -> Result<Pool, String> {
        let Some(config) = &self.config else {
            return Err("no database configured".to_owned());
        };
        POOL.with(|pool| {
            if let Some(pool) = pool.get() {
                return Ok(pool.clone());
            }
            let manager = Manager::from_config(
                config.clone(),
                NoTls,
                ManagerConfig {
                    recycling_method: RecyclingMethod::Fast,
                },
            );
            // No timeouts of the pool's own: `query` bounds every step with one timer.
            let built = Pool::builder(manager)
                .max_size(self.size)
                .build()
                .map_err(|error| format!("cannot make the pool: {error}"))?;
            Ok(pool.get_or_init(|| built).clone())
        })
    }
}
