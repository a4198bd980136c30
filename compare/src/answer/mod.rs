//! `answer`: every kind of wait against every design, in one table, from one run.
//!
//! Each row is a scenario of its own: what the view waits on (a timer, CPU, a database, another
//! service, several at once, a blocking call by mistake, a bounded pool), sent to each design at
//! once: one thread (sync-server), N threads (sync-server `--threads 4`), one event loop
//! (async-server) and an event loop with an offload pool (async-server `--blocking-threads 2`,
//! through `/offload`). A quick `/nosleep` goes in while the view waits. The page is written
//! from what this run measured: each cell with a ✓ where it agreed with its prediction and the
//! prediction where it did not, and the advice under the table composed from the same figures.
//! When `load` and `overload` ran in the same command, two rows more say what each design does
//! with traffic, and with more than it can serve.

mod page;
mod rows;
mod traffic_rows;

pub use self::page::page;
pub use self::rows::scenarios;
