//! The core both servers share, with no I/O of its own.
//!
//! A server hands this crate a request's method and target and gets back a [`Plan`]: how long to
//! wait (if at all) and what to answer. It formats the log lines into a [`LogBuffer`] that the
//! server writes out when it chooses, and it knows who is answering ([`Identity`]: process id and
//! native thread id). Sockets, clocks and sleeping belong to the servers, each in its own style,
//! so that the one difference this project is about stays visible there.

pub mod cli;
mod identity;
mod log;
mod page;
mod plan;
mod screen;

pub use identity::Identity;
pub use log::LogBuffer;
pub use plan::{
    Answer, Field, Flavor, Limits, Plan, Router, Value, Wait, ALLOWED_METHODS, CONTENT_TYPE, HTML,
};
pub use screen::{screen, MAX_HEAD, MAX_HEADERS};
