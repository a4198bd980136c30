//! The core both servers share: what a request means and what to answer, with no I/O of its own.
//!
//! A server hands [`Router::plan`] a request's [`Head`], its header lines and who is answering,
//! and gets back a [`Plan`]: how to wait (if at all, in one of the ways that server has) and what
//! to [`Answer`]. It formats the log lines ([`LogBuffer`]) that the server writes out when it
//! chooses. Sockets and waiting belong to the servers, each in its own style, so that the one
//! difference this project is about stays visible there. What touches the process (thread ids,
//! the CPU clock, stdout, the command line, the grace period's clock) is the small part [`os`].
//!
//! | module | concern |
//! | --- | --- |
//! | [`Router`] | the way in: version, screening, routing, CORS, the shutdown's grace |
//! | `request` | what a request says: version, request line, `Connection` and `Origin` |
//! | `screen` | a request head's size, syntax and body framing |
//! | `routes` | what each path means, and each server's waits ([`SyncWait`], [`AsyncWait`]) |
//! | `query` | the `seconds`, `work`, `count` and `via` a request asks for |
//! | `answer` | the answer and its header fields, each named once |
//! | `queue` | a request that waited in a queue: run, shed past `--queue-deadline`, or dropped |
//! | `log` | the `START`, `DONE`, `SHED`, `GONE` and `BLOCKED` lines, formatted ([`LogBuffer`]) |
//! | `page` | the index page |
//! | [`os`] | the OS edge: ids, CPU clock, stdout, command line, signals |

mod answer;
mod log;
pub mod os;
mod page;
mod query;
mod queue;
mod request;
mod router;
mod routes;
mod screen;

pub use answer::{
    cause_of, common_headers, Answer, FetchFailure, Field, Value, ALLOWED_METHODS, CONTENT_TYPE,
    HTML,
};
pub use log::LogBuffer;
pub use os::{Identity, Shutdown, Signal};
pub use queue::{QueueDeadline, Verdict, Waited};
pub use request::{says, Head, Version};
pub use router::Router;
pub use routes::{
    Asked, AsyncWait, Backends, Calls, Limits, Plan, ServerKind, SyncWait, Via, Waits, Work,
};
pub use screen::{MAX_HEAD, MAX_HEADERS};
