//! The core both servers share, with no socket or clock waiting of its own.
//!
//! A server hands [`Router::plan`] a request's [`Head`], its header lines and who is answering,
//! and gets back a [`Plan`]: how long to wait (if at all) and what to [`Answer`]. It formats the
//! log lines ([`log`]) that the server writes out when it chooses, and it knows who is answering
//! ([`Identity`]: process id and native thread id). Sockets and sleeping belong to the servers,
//! each in its own style, so that the one difference this project is about stays visible there.
//!
//! | module | concern |
//! | --- | --- |
//! | [`Router`] | the way in: version, screening, routing, CORS, the shutdown's grace |
//! | `request` | what a request says: version, request line, `Connection` and `Origin` |
//! | `screen` | a request head's size, syntax and body framing |
//! | `routes` | what each path means, and each server's waits ([`SyncWait`], [`AsyncWait`]) |
//! | `query` | the `seconds` a request asks for |
//! | `answer` | the answer and its header fields, each named once |
//! | [`log`] | the `START` and `DONE` lines |
//! | [`Shutdown`] | when a shutdown began, and the grace left |
//! | [`work`] | the CPU-bound work of `/compute`, in the thread's own CPU time |
//! | [`cli`] | the command line and how a binary ends with an error |

mod answer;
pub mod cli;
mod identity;
pub mod log;
mod page;
mod query;
mod request;
mod router;
mod routes;
mod screen;
mod shutdown;
pub mod work;

pub use answer::{common_headers, Answer, Field, Value, ALLOWED_METHODS, CONTENT_TYPE, HTML};
pub use identity::Identity;
pub use log::LogBuffer;
pub use request::{says, Head, Version};
pub use router::Router;
pub use routes::{AsyncWait, Limits, Plan, ServerKind, SyncWait, Waits, Work};
pub use screen::{MAX_HEAD, MAX_HEADERS};
pub use shutdown::Shutdown;
