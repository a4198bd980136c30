//! The OS edge of the core: the few things that touch the process, kept apart from the pure part
//! (routes, screening, answers, log formatting, the page), which does no I/O.
//!
//! | module | touches |
//! | --- | --- |
//! | [`Identity`] | the process id and the native thread id (`gettid`) |
//! | [`work`] | the thread's own CPU clock, for `/compute` |
//! | [`log`] | stdout, where each thread's log lines go |
//! | [`cli`] | the command line, stderr for its errors, and host name lookup |
//! | [`Shutdown`] | the monotonic clock, for the grace period after a signal |
//!
//! None of it ends the process: a function that fails returns what failed, and each binary's
//! `main` decides how to exit.

pub mod cli;
mod identity;
pub mod log;
mod shutdown;
pub mod work;

pub use identity::Identity;
pub use shutdown::{Shutdown, Signal};
