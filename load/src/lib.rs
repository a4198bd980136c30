//! Open-loop load, and what queueing theory predicts of it.
//!
//! A closed-loop client (ApacheBench, wrk) waits for each answer before it sends again, so a
//! stalled server is sent less, and the queue that would have built up never shows: coordinated
//! omission. This crate's client is open loop: the schedule of arrivals is drawn before the run
//! ([`schedule`]), each request starts when it is due whatever earlier ones are doing, and its
//! latency runs from when it was due ([`client`]). The same schedule, fed to a model of the
//! design ([`model`]), predicts each request's latency, so each figure measured has a predicted
//! twin.
//!
//! | module | what it does |
//! | --- | --- |
//! | [`mix`] | the classes of request and their shares |
//! | [`schedule`] | when each request is due, drawn from a seed |
//! | [`client`] | sending them, on time, on one tokio `current_thread` runtime |
//! | [`stats`] | per-class percentiles (HDR histograms), errors, and the client's own lateness |
//! | [`model`] | a design as FCFS stations: each request's predicted latency, and the knee |

pub mod client;
pub mod mix;
pub mod model;
pub mod schedule;
pub mod stats;
