//! What a server does with a request that has waited in one of its queues: sync-server's queue
//! for a handler thread, async-server's for a thread of the blocking pool.
//!
//! A queue with no deadline is the seed's experiment: every request waits its turn however long
//! that takes. Past capacity that turns into serving no one: each request waits longer than its
//! client will, and the server spends its thread on answers nobody reads. Two rules keep a queue
//! honest, and both are decided here from what the server measured; the measuring is the
//! server's.
//!
//! - `--queue-deadline MS`: a request that waited longer is answered `503` at once, without its
//!   work ([`Answer::shed`]), so the thread goes to requests that can still be served in time.
//! - A request whose client has hung up is not run at all: nobody would read the answer.

use std::time::Duration;

use crate::Answer;

/// How long a request waited in a queue of the server's, and whether its client is still there
/// as far as the server can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waited {
    pub waited: Duration,
    pub client_gone: bool,
}

/// What to do with a request as it leaves the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Run it.
    Run,
    /// Answer `503` without running it: it waited past the deadline.
    Shed,
    /// Neither run nor answer it: its client has gone.
    Gone,
}

/// `--queue-deadline`: the longest a request may wait in the queue and still be run (`None`:
/// any time).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueDeadline(pub Option<Duration>);

impl QueueDeadline {
    /// The verdict on a request that `waited` so. A client that has gone is not answered even
    /// past the deadline: nothing would read the `503`.
    pub fn verdict(self, waited: Waited) -> Verdict {
        if waited.client_gone {
            Verdict::Gone
        } else if self.0.is_some_and(|deadline| waited.waited > deadline) {
            Verdict::Shed
        } else {
            Verdict::Run
        }
    }
}

impl Answer {
    /// `503` for a request that waited longer than `--queue-deadline` in the server's queue:
    /// its work is not done, and the client may try again in a second.
    pub fn shed() -> Answer {
        Answer {
            retry_after: Some(1),
            ..Answer::text(
                503,
                "waited too long in the server's queue (past --queue-deadline); try again in a \
                 second\n",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn waited(ms: u32, client_gone: bool) -> Waited {
        Waited {
            waited: MS * ms,
            client_gone,
        }
    }

    #[test]
    fn past_the_deadline_is_shed_and_a_gone_client_is_never_run() {
        let deadline = QueueDeadline(Some(MS * 200));
        assert_eq!(deadline.verdict(waited(0, false)), Verdict::Run);
        assert_eq!(deadline.verdict(waited(200, false)), Verdict::Run);
        assert_eq!(deadline.verdict(waited(201, false)), Verdict::Shed);
        assert_eq!(deadline.verdict(waited(5, true)), Verdict::Gone);
        assert_eq!(deadline.verdict(waited(900, true)), Verdict::Gone);
        let off = QueueDeadline(None);
        assert_eq!(off.verdict(waited(60_000, false)), Verdict::Run);
        assert_eq!(off.verdict(waited(1, true)), Verdict::Gone);
    }

    #[test]
    fn a_shed_request_is_told_to_come_back_in_a_second() {
        let answer = Answer::shed();
        assert_eq!(answer.status, 503);
        assert_eq!(answer.retry_after, Some(1));
        assert!(answer.body.ends_with('\n') && answer.body.lines().count() == 1);
        assert!(answer.body.contains("--queue-deadline"));
    }
}
