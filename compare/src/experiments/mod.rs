//! The experiments, one function each: which requests each server gets, when, and what the
//! arithmetic of threads, tasks and cores predicts for it. Each returns a
//! [`Scenario`](crate::scenario::Scenario), the one shape every experiment takes.

mod cpu;
mod real_io;
mod timers;

pub use self::cpu::*;
pub use self::real_io::*;
pub use self::timers::*;
