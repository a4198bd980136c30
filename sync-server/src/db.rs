//! The database, for `/query`: PostgreSQL through the blocking client (`postgres`), from a pool
//! of at most `--db-pool` connections (by default one per handler thread, as Django keeps one
//! per thread). A handler thread asks the pool for a connection, waiting for one at most
//! `--db-wait`, and then sends the statement: the thread is parked in a socket read until the
//! database answers, just as `/sleep` parks it in a timer.

use std::sync::Mutex;
use std::time::Duration;

use postgres::{Client, NoTls, Statement};
use shared::cause_of;

/// The statement of `/query`: the database waits `$1` seconds, then names its backend process.
const STATEMENT: &str = "SELECT pg_backend_pid() FROM pg_sleep($1)";

/// A bounded pool of connections, or none (no `--database`, or closed at shutdown).
pub struct Database {
    pool: Mutex<Option<r2d2::Pool<Connector>>>,
}

/// Opens the pool's connections, each with the statement prepared once.
struct Connector {
    config: postgres::Config,
}

struct Connection {
    client: Client,
    statement: Statement,
}

impl Database {
    /// No database: `/query` is answered `503` before it reaches here.
    pub fn none() -> Database {
        Database {
            pool: Mutex::new(None),
        }
    }

    /// A pool of at most `size` connections to `url`, opened as requests need them; a request
    /// waits at most `wait` for one.
    pub fn new(url: &str, size: u32, wait: Duration) -> anyhow::Result<Database> {
        let mut config: postgres::Config = url.parse()?;
        config.connect_timeout(wait).keepalives(true);
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .min_idle(Some(0))
            .connection_timeout(wait)
            // Checking each connection with a round trip before use would double the database
            // calls; a connection that failed is found out by its failure instead.
            .test_on_check_out(false)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(Connector { config });
        Ok(Database {
            pool: Mutex::new(Some(pool)),
        })
    }

    /// Runs the statement, the database waiting `seconds`: the backend's process id, or why the
    /// database could not answer.
    pub fn query(&self, seconds: Duration) -> Result<u32, String> {
        // A pool is a handle to shared connections: cloning it takes no connection.
        let Some(pool) = self.pool.lock().unwrap().clone() else {
            return Err("no database configured".to_owned());
        };
        // A connection kept from before the database went away fails at its first use; the
        // pool drops it, and the request tries once more on a new one.
        let mut retried = false;
        loop {
            let mut connection = pool
                .get()
                .map_err(|error| format!("no connection within --db-wait: {}", cause_of(&error)))?;
            let Connection { client, statement } = &mut *connection;
            match client.query_one(&*statement, &[&seconds.as_secs_f64()]) {
                Ok(row) => return Ok(row.get::<_, i32>(0) as u32),
                Err(_) if !retried && client.is_closed() => retried = true,
                Err(error) => return Err(format!("the query failed: {}", cause_of(&error))),
            }
        }
    }
}

/// Why a connection could not be made, with every cause under it (r2d2 keeps only the text of
/// the last failure, and postgres's own says only `db error`).
#[derive(Debug)]
struct ConnectError(String);

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConnectError {}

impl From<postgres::Error> for ConnectError {
    fn from(error: postgres::Error) -> ConnectError {
        ConnectError(cause_of(&error))
    }
}

impl Database {
    /// Closes the connections, each saying goodbye to its backend: at shutdown, once every
    /// request is answered.
    pub fn close(&self) {
        drop(self.pool.lock().unwrap().take());
    }
}

impl r2d2::ManageConnection for Connector {
    type Connection = Connection;
    type Error = ConnectError;

    fn connect(&self) -> Result<Connection, ConnectError> {
        let mut client = self.config.connect(NoTls)?;
        let statement = client.prepare(STATEMENT)?;
        Ok(Connection { client, statement })
    }

    fn is_valid(&self, connection: &mut Connection) -> Result<(), ConnectError> {
        Ok(connection.client.simple_query("").map(drop)?)
    }

    fn has_broken(&self, connection: &mut Connection) -> bool {
        connection.client.is_closed()
    }
}
