//! When a server began shutting down, and how much of its grace period is left.
//!
//! Both servers follow the same policy (`SIGINT` or `SIGTERM`: stop accepting, finish what is in
//! progress for at most `--max-sleep`, exit 0; a second signal: exit 130 at once). The signal
//! handling, the waiting and the exit are each server's own; the moment and the arithmetic are
//! here.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Which signal of a shutdown this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// The first: stop accepting, finish what is in progress.
    First,
    /// Another, while shutting down: stop now.
    Again,
}

impl Signal {
    /// The exit status after a second signal: 130, as after Ctrl-C.
    pub const EXIT_AGAIN: i32 = 130;
}

/// A server's shutdown: not begun, or begun at a moment, with a grace period.
#[derive(Debug)]
pub struct Shutdown {
    began: OnceLock<Instant>,
    grace: Duration,
}

impl Shutdown {
    pub fn new(grace: Duration) -> Shutdown {
        Shutdown {
            began: OnceLock::new(),
            grace,
        }
    }

    /// A signal has come: the first begins the shutdown. A server ends at once on
    /// [`Signal::Again`], with [`Signal::EXIT_AGAIN`].
    pub fn signalled(&self) -> Signal {
        match self.began.set(Instant::now()) {
            Ok(()) => Signal::First,
            Err(_) => Signal::Again,
        }
    }

    /// Says on stderr that the server is shutting down: once it no longer accepts connections.
    pub fn announce(&self, program: &str) {
        eprintln!(
            "{program}: shutting down: finishing the requests in progress (for at most {} s)",
            self.grace.as_secs_f64()
        );
    }

    /// The grace period: how long requests in progress may go on once shutting down.
    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// While shutting down, how much of the grace period is left.
    pub fn grace_left(&self) -> Option<Duration> {
        let began = self.began.get()?;
        Some(self.grace.saturating_sub(began.elapsed()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grace_left_counts_down_from_the_first_signal() {
        let shutdown = Shutdown::new(Duration::from_secs(60));
        assert_eq!(shutdown.grace_left(), None);
        assert_eq!(shutdown.signalled(), Signal::First);
        let left = shutdown.grace_left().unwrap();
        assert!(left <= Duration::from_secs(60) && left > Duration::from_secs(59));
        let none = Shutdown::new(Duration::ZERO);
        none.signalled();
        assert_eq!(none.grace_left(), Some(Duration::ZERO));
        assert_eq!(none.signalled(), Signal::Again);
    }
}
