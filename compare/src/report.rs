//! The results, for people (a table and a verdict per server) and machines (`--json`).

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};
use std::time::Duration;

use serde::Serialize;

use crate::role::Role;
use crate::scenario::{Measured, Prediction, Scenario};
use crate::verdict::{self, seconds};

/// How every figure was measured; printed under the tables and stored in the JSON.
pub const METHOD: &str = "Times are from each scenario's start, on the client's monotonic clock. \
    Latency runs from the first byte of the request sent to the last byte of the answer received. \
    Each request has a connection of its own, as separate browser tabs would; the servers of a \
    scenario run it at the same time, but for the CPU-bound ones (compute, cores, crowded) and \
    db-pool, which run on one server after the other so that none takes cores from another. \
    What a server held (threads, memory, database connections and their backends' memory) is \
    read from /proc every 20 ms while the scenario runs, when compare started the server. A prediction \
    holds when the server blocked or not as predicted and took from 0.8 to 1.3 times the wall time \
    predicted.";

#[derive(Debug, Serialize)]
pub struct Report {
    pub method: &'static str,
    pub scenarios: Vec<ScenarioReport>,
    /// The `scale` scenario, if it ran.
    pub scale: Option<crate::scale::ScaleReport>,
    pub fetch_scale: Option<crate::scale::ScaleReport>,
    /// The `growth` scenario: `scale` at three sizes, smallest first.
    pub growth: Vec<crate::scale::ScaleReport>,
    /// `load`, if it ran.
    #[serde(rename = "load")]
    pub traffic: Option<crate::traffic::TrafficReport>,
    /// `overload`, if it ran.
    pub overload: Option<crate::overload::OverloadReport>,
}

/// A duration in the JSON, in seconds like every other time there (`latency_s`, `wall_s`):
/// `#[serde(with = "in_seconds")]`, the field's name ending in `_s`.
pub mod in_seconds {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(time: &Duration, to: S) -> Result<S::Ok, S::Error> {
        to.serialize_f64(time.as_secs_f64())
    }
}

/// [`in_seconds`], for a duration that may be missing (`null`).
pub mod in_seconds_if_any {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(
        time: &Option<Duration>,
        to: S,
    ) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&time.map(|time| time.as_secs_f64()), to)
    }
}

#[derive(Debug, Serialize)]
pub struct ScenarioReport {
    pub name: String,
    pub description: String,
    pub servers: Vec<ServerReport>,
}

#[derive(Debug, Serialize)]
pub struct ServerReport {
    /// `sync`, `async` or `sync-threads`.
    pub server: &'static str,
    /// How it was run: `sync-server --threads 4`, say.
    pub command: String,
    pub url: String,
    pub blocked: bool,
    /// Every request got a complete `200` (or, where the database refuses some, a `5xx`).
    pub answered: bool,
    pub verdict: String,
    /// What the arithmetic predicted, before the run.
    pub prediction: String,
    pub predicted_blocked: bool,
    pub predicted_wall_s: Option<f64>,
    /// From the first request sent to the last answer received.
    pub wall_s: f64,
    /// Requests answered `500` or `503` in a scenario where the database refuses some.
    pub refused: usize,
    pub predicted_refused: usize,
    /// The measurement agrees with the prediction: blocked or not as predicted, and the wall
    /// time within -20% and +30% of the predicted one, where one is predicted.
    pub as_predicted: bool,
    /// The `BLOCKED` lines the server printed during the scenario (when `compare` started it).
    pub blocked_lines: Vec<String>,
    /// Its threads, memory and database connections, before and at the peak (when `compare`
    /// started it).
    pub held: Option<crate::held::Held>,
    pub requests: Vec<RequestReport>,
}

/// One server's run of a scenario, as measured.
pub struct Run {
    pub role: Role,
    pub url: String,
    pub requests: Vec<Measured>,
    pub blocked_lines: Vec<String>,
    pub held: Option<crate::held::Held>,
}

#[derive(Debug, Serialize)]
pub struct RequestReport {
    pub path: String,
    /// The path, numbered where several requests share it.
    pub label: String,
    /// The sleep the request asks of the server.
    pub work_s: f64,
    pub sent_s: f64,
    pub answered_s: Option<f64>,
    pub latency_s: Option<f64>,
    pub status: Option<u16>,
    pub pid: Option<u32>,
    pub tid: Option<u64>,
    /// The thread that did offloaded blocking work (`X-Work-Tid`), for `/offload`.
    pub work_tid: Option<u64>,
    /// Why there is no answer, if there is none.
    pub error: Option<String>,
}

impl ScenarioReport {
    /// Judges and tabulates one scenario's measurements, one list per server.
    pub fn new(scenario: &Scenario, runs: Vec<Run>) -> Self {
        let servers = runs
            .into_iter()
            .map(|run| {
                let lane = scenario.lane(run.role);
                let prediction = &lane.prediction;
                // Where refusals are an outcome, the refused are counted and the rest judged.
                let (refused, served): (Vec<&Measured>, Vec<&Measured>) = run
                    .requests
                    .iter()
                    .partition(|request| scenario.counts_refusals() && request.refused());
                let served: Vec<Measured> = served.into_iter().cloned().collect();
                let mut verdict = verdict::judge_by(run.role.name(), &served, lane.judged_by);
                if scenario.counts_refusals() {
                    let statuses: BTreeSet<String> = refused
                        .iter()
                        .filter_map(|r| Some(r.answer.as_ref().ok()?.status.to_string()))
                        .collect();
                    verdict.text += &format!(
                        "; {} of {} refused{}",
                        refused.len(),
                        run.requests.len(),
                        match statuses.len() {
                            0 => String::new(),
                            _ => format!(
                                " ({})",
                                statuses.into_iter().collect::<Vec<_>>().join(", ")
                            ),
                        }
                    );
                }
                let labels = verdict::labels(&run.requests);
                let wall = verdict::wall(&served);
                let requests = run
                    .requests
                    .iter()
                    .zip(labels)
                    .map(|(request, label)| RequestReport::new(request, label))
                    .collect();
                let agrees = agrees(prediction, verdict.blocked, wall)
                    && refused.len() == prediction.refused;
                ServerReport {
                    server: run.role.name(),
                    command: run.role.command(),
                    url: run.url,
                    blocked: verdict.blocked,
                    answered: verdict.answered,
                    verdict: verdict.text,
                    prediction: prediction.why.clone(),
                    predicted_blocked: prediction.blocked,
                    predicted_wall_s: prediction.wall.map(|wall| wall.as_secs_f64()),
                    wall_s: wall.as_secs_f64(),
                    refused: refused.len(),
                    predicted_refused: prediction.refused,
                    as_predicted: agrees,
                    blocked_lines: run.blocked_lines,
                    held: run.held,
                    requests,
                }
            })
            .collect();
        ScenarioReport {
            name: scenario.name.clone(),
            description: scenario.description.clone(),
            servers,
        }
    }
}

/// Whether what was measured is what was predicted.
fn agrees(prediction: &Prediction, blocked: bool, wall: Duration) -> bool {
    let wall_agrees = prediction
        .wall
        .is_none_or(|predicted| wall >= predicted.mul_f64(0.8) && wall <= predicted.mul_f64(1.3));
    prediction.blocked == blocked && wall_agrees
}

impl RequestReport {
    fn new(request: &Measured, label: String) -> Self {
        let answer = request.answer.as_ref().ok();
        RequestReport {
            path: request.planned.path.clone(),
            label,
            work_s: request.planned.work.as_secs_f64(),
            sent_s: request.sent.as_secs_f64(),
            answered_s: answer.map(|a| a.at.as_secs_f64()),
            latency_s: request.latency().map(|l| l.as_secs_f64()),
            status: answer.map(|a| a.status),
            pid: answer.and_then(|a| a.pid),
            tid: answer.and_then(|a| a.tid),
            work_tid: answer.and_then(|a| a.work_tid),
            error: request.answer.as_ref().err().cloned(),
        }
    }
}

impl Report {
    pub fn all_answered(&self) -> bool {
        let scaled = self
            .scale
            .iter()
            .chain(&self.fetch_scale)
            .chain(&self.growth)
            .flat_map(|scale| &scale.servers);
        self.scenarios
            .iter()
            .flat_map(|scenario| &scenario.servers)
            .all(|server| server.answered)
            && scaled.clone().all(|server| server.note.is_none())
    }
}

impl fmt::Display for ScenarioReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {}", self.name, self.description)?;
        for server in &self.servers {
            writeln!(f, "\n  {} at {}", server.command, server.url)?;
            let width = server
                .requests
                .iter()
                .map(|r| r.label.len())
                .max()
                .unwrap_or(0)
                .max(7);
            let offloaded = server.requests.iter().any(|r| r.work_tid.is_some());
            let mut head = format!(
                "    {:width$}  {:>9}  {:>11}  {:>9}  {:>6}  {:>8}  {:>8}",
                "request", "sent at", "answered at", "latency", "status", "pid", "tid"
            );
            if offloaded {
                head += &format!("  {:>8}", "work tid");
            }
            writeln!(f, "{head}")?;
            for request in &server.requests {
                let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".to_owned());
                let number = |value: Option<u64>| or_dash(value.map(|n| n.to_string()));
                let mut line = format!(
                    "    {:width$}  {:>9}  {:>11}  {:>9}  {:>6}  {:>8}  {:>8}",
                    request.label,
                    format!("{:.3} s", request.sent_s),
                    or_dash(request.answered_s.map(|s| format!("{s:.3} s"))),
                    or_dash(
                        request
                            .latency_s
                            .map(|s| seconds(Duration::from_secs_f64(s)))
                    ),
                    number(request.status.map(u64::from)),
                    number(request.pid.map(u64::from)),
                    number(request.tid),
                );
                if offloaded {
                    write!(line, "  {:>8}", number(request.work_tid))?;
                }
                if let Some(error) = &request.error {
                    write!(line, "  ({error})")?;
                }
                writeln!(f, "{}", line.trim_end())?;
            }
            writeln!(f, "    {}", server.verdict)?;
            let mut predicted = format!("    predicted: {}", server.prediction);
            if let Some(wall) = server.predicted_wall_s {
                let (wall, measured) = (Duration::from_secs_f64(wall), server.wall_s);
                write!(
                    predicted,
                    "; {} in all, measured {}",
                    seconds(wall),
                    seconds(Duration::from_secs_f64(measured))
                )?;
            }
            if server.predicted_refused > 0 || server.refused > 0 {
                write!(
                    predicted,
                    "; {} refused, measured {}",
                    server.predicted_refused, server.refused
                )?;
            }
            let agrees = if server.as_predicted {
                "as predicted"
            } else {
                "NOT as predicted"
            };
            writeln!(f, "{predicted}: {agrees}")?;
            if let Some(held) = &server.held {
                writeln!(f, "    {}", held.line())?;
            }
            for line in &server.blocked_lines {
                writeln!(f, "    log: {line}")?;
            }
        }
        Ok(())
    }
}

/// `text` cut into lines of at most `width` characters, at spaces.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("a line");
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(word.to_owned());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}
