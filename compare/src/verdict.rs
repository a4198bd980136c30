//! Whether a server blocked, judged from what its requests measured, and said in one line.
//!
//! A request's *delay* is its latency less its own work (its own sleep): time it spent waiting
//! for something else. A server blocked if any request's delay exceeds a tenth of the
//! scenario's sleep (at least 20 ms, well above the noise of a loaded machine).

use std::collections::BTreeSet;
use std::time::Duration;

use crate::scenario::Measured;

/// The smallest delay that counts as blocking.
const MIN_BLOCKING: Duration = Duration::from_millis(20);

#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub blocked: bool,
    /// Every request got a `200`.
    pub answered: bool,
    pub text: String,
}

/// Which requests' delays decide whether a server blocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JudgedBy {
    /// Any request's: a request may have waited behind others, or for a core.
    AnyRequest,
    /// The quick requests' (`/nosleep`, no work of their own): whether the server kept a quick
    /// request waiting, whatever its own work took on a shared machine.
    QuickRequests,
}

/// Judges one server's run of a scenario, the requests whose delays decide it chosen `by`;
/// `server` is its short name (`sync`, `async`).
pub fn judge_by(server: &str, requests: &[Measured], by: JudgedBy) -> Verdict {
    let threshold = requests
        .iter()
        .map(|request| request.planned.work / 10)
        .max()
        .unwrap_or_default()
        .max(MIN_BLOCKING);
    let labels = labels(requests);
    let quick = |i: &usize| requests[*i].planned.work.is_zero();
    let judged = |i: &usize| {
        by == JudgedBy::AnyRequest || !requests.iter().any(|r| r.planned.work.is_zero()) || quick(i)
    };
    let worst = (0..requests.len())
        .filter(judged)
        .filter_map(|i| Some((i, requests[i].delay()?)))
        .max_by_key(|&(_, delay)| delay);
    let blocked = worst.is_some_and(|(_, delay)| delay > threshold);

    if let Some((i, failed)) = requests
        .iter()
        .enumerate()
        .find(|(_, request)| !request.succeeded())
    {
        let why = match &failed.answer {
            Ok(answered) => format!("answered {}", answered.status),
            Err(reason) => reason.clone(),
        };
        return Verdict {
            blocked,
            answered: false,
            text: format!("{server}: not all answered: {}: {why}", labels[i]),
        };
    }

    let text = match worst {
        Some((i, delay)) if blocked => {
            let ahead = ahead_of(requests, i);
            let behind = match ahead.as_slice() {
                // Nothing else was answered meanwhile: a quick one waited behind the others
                // (answered in the same instant), a waiting one behind its own waits.
                [] if quick(&i) => "the other requests".to_owned(),
                [] => "no other request: its own waits took turns".to_owned(),
                [one] => labels[*one].clone(),
                many => format!("{} other requests", many.len()),
            };
            let mut text = format!(
                "{server}: blocked: {} waited {} behind {behind}",
                labels[i],
                seconds(delay)
            );
            if requests.len() > 2 {
                let wall = seconds(wall(requests));
                text += &format!("; all {} took {wall} in all", requests.len());
            }
            text
        }
        _ => {
            let mut text = format!("{server}: not blocked: ");
            if requests.len() > 2 {
                let wall = seconds(wall(requests));
                text += &format!("all {} took {wall} in all", requests.len());
            } else {
                // The request sent last is the one that could have been held up.
                let last = (0..requests.len())
                    .max_by_key(|&i| requests[i].sent)
                    .unwrap_or(0);
                let latency = requests[last].latency().unwrap_or_default();
                text += &format!("{} answered in {}", labels[last], seconds(latency));
            }
            text + "; " + &threads(requests)
        }
    };
    Verdict {
        blocked,
        answered: true,
        text,
    }
}

/// The requests answered while request `i` was waiting, before it: those it was stuck behind.
fn ahead_of(requests: &[Measured], i: usize) -> Vec<usize> {
    let answered = |request: &Measured| request.answer.as_ref().ok().map(|a| a.at);
    let (sent, done) = (requests[i].sent, answered(&requests[i]));
    (0..requests.len())
        .filter(|&j| j != i)
        .filter(|&j| answered(&requests[j]).is_some_and(|at| at >= sent && Some(at) <= done))
        .collect()
}

/// Each request's path, numbered (`#2`) where several share one.
pub fn labels(requests: &[Measured]) -> Vec<String> {
    let mut labels = Vec::with_capacity(requests.len());
    for (i, request) in requests.iter().enumerate() {
        let path = &request.planned.path;
        let same = requests
            .iter()
            .filter(|other| &other.planned.path == path)
            .count();
        if same > 1 {
            let nth = requests[..=i]
                .iter()
                .filter(|other| &other.planned.path == path)
                .count();
            labels.push(format!("{path} #{nth}"));
        } else {
            labels.push(path.clone());
        }
    }
    labels
}

/// From the first request sent to the last answer received.
pub fn wall(requests: &[Measured]) -> Duration {
    let first = requests.iter().map(|r| r.sent).min().unwrap_or_default();
    let last = requests
        .iter()
        .filter_map(|r| r.answer.as_ref().ok().map(|a| a.at))
        .max()
        .unwrap_or_default();
    last.saturating_sub(first)
}

fn threads(requests: &[Measured]) -> String {
    let ids: BTreeSet<_> = requests
        .iter()
        .filter_map(|r| r.answer.as_ref().ok())
        .map(|a| (a.pid, a.tid))
        .collect();
    let mut text = match ids.iter().collect::<Vec<_>>().as_slice() {
        [(Some(pid), Some(tid))] => format!("all requests ran on PID {pid}, TID {tid}"),
        _ => format!("requests ran on {} threads", ids.len()),
    };
    let workers: BTreeSet<_> = requests
        .iter()
        .filter_map(|r| r.answer.as_ref().ok()?.work_tid)
        .collect();
    if !workers.is_empty() {
        let workers: Vec<_> = workers.iter().map(u64::to_string).collect();
        text += &format!(", the blocking work on TID {}", workers.join(", "));
    }
    text
}

/// A duration as people read it: `1.2 ms`, `3.00 s`.
pub fn seconds(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
    } else {
        format!("{:.2} s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Answered, Planned};

    fn judge(server: &str, requests: &[Measured]) -> Verdict {
        judge_by(server, requests, JudgedBy::AnyRequest)
    }

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    fn request(path: &str, work: u64, sent: u64, answered: u64, tid: u64) -> Measured {
        Measured {
            planned: Planned {
                path: path.to_owned(),
                at: ms(sent),
                work: ms(work),
            },
            sent: ms(sent),
            answer: Ok(Answered {
                at: ms(answered),
                status: 200,
                pid: Some(7),
                tid: Some(tid),
                work_tid: None,
            }),
        }
    }

    #[test]
    fn a_nosleep_held_up_by_a_sleep_is_blocked() {
        let verdict = judge(
            "sync",
            &[
                request("/sleep?seconds=5", 5000, 0, 5001, 7),
                request("/nosleep", 0, 2000, 5002, 7),
            ],
        );
        assert!(verdict.blocked && verdict.answered);
        assert_eq!(
            verdict.text,
            "sync: blocked: /nosleep waited 3.00 s behind /sleep?seconds=5"
        );
    }

    #[test]
    fn a_nosleep_answered_at_once_is_not_blocked() {
        let verdict = judge(
            "async",
            &[
                request("/sleep?seconds=5", 5000, 0, 5001, 7),
                request("/nosleep", 0, 2000, 2001, 7),
            ],
        );
        assert!(!verdict.blocked);
        assert_eq!(
            verdict.text,
            "async: not blocked: /nosleep answered in 1.0 ms; all requests ran on PID 7, TID 7"
        );
    }

    #[test]
    fn a_second_sleep_is_judged_by_its_delay_beyond_its_own_sleep() {
        let sync = judge(
            "sync",
            &[
                request("/sleep?seconds=5", 5000, 0, 5000, 7),
                request("/sleep?seconds=5", 5000, 2000, 10_000, 7),
            ],
        );
        assert!(sync.blocked);
        assert_eq!(
            sync.text,
            "sync: blocked: /sleep?seconds=5 #2 waited 3.00 s behind /sleep?seconds=5 #1"
        );
        let overlapped = judge(
            "async",
            &[
                request("/sleep?seconds=5", 5000, 0, 5001, 7),
                request("/sleep?seconds=5", 5000, 2000, 7003, 7),
            ],
        );
        assert!(!overlapped.blocked, "{}", overlapped.text);
        assert!(
            overlapped.text.contains("#2 answered in 5.00 s"),
            "{}",
            overlapped.text
        );
    }

    #[test]
    fn fanout_verdicts_give_the_wall_time() {
        let serial: Vec<_> = (1..=3)
            .map(|n| request("/sleep?seconds=1", 1000, 0, 1000 * n, 7))
            .collect();
        let verdict = judge("sync", &serial);
        assert!(verdict.blocked);
        assert_eq!(
            verdict.text,
            "sync: blocked: /sleep?seconds=1 #3 waited 2.00 s behind 2 other requests; all 3 took 3.00 s in all"
        );
        let together: Vec<_> = (0..3)
            .map(|n| request("/sleep?seconds=1", 1000, 0, 1001, 7 + n))
            .collect();
        let verdict = judge("async", &together);
        assert!(!verdict.blocked);
        assert_eq!(
            verdict.text,
            "async: not blocked: all 3 took 1.00 s in all; requests ran on 3 threads"
        );
    }

    #[test]
    fn offloaded_work_names_its_thread() {
        let mut offloaded = request("/offload?seconds=5", 5000, 0, 5001, 7);
        offloaded.answer.as_mut().unwrap().work_tid = Some(12);
        let verdict = judge("async", &[offloaded, request("/nosleep", 0, 2000, 2001, 7)]);
        assert!(!verdict.blocked);
        assert!(
            verdict
                .text
                .ends_with("all requests ran on PID 7, TID 7, the blocking work on TID 12"),
            "{}",
            verdict.text
        );
    }

    #[test]
    fn small_delays_are_noise() {
        let verdict = judge(
            "async",
            &[
                request("/sleep?seconds=0.1", 100, 0, 119, 7),
                request("/nosleep", 0, 40, 59, 7),
            ],
        );
        assert!(!verdict.blocked, "19 ms is below the 20 ms floor");
    }

    #[test]
    fn an_unanswered_request_is_reported() {
        let mut failed = request("/nosleep", 0, 2000, 0, 7);
        failed.answer = Err("could not connect: refused".to_owned());
        let verdict = judge(
            "sync",
            &[request("/sleep?seconds=5", 5000, 0, 5000, 7), failed],
        );
        assert!(!verdict.answered);
        assert_eq!(
            verdict.text,
            "sync: not all answered: /nosleep: could not connect: refused"
        );
        let mut refused = request("/sleep?seconds=5", 5000, 0, 1, 7);
        refused.answer.as_mut().unwrap().status = 400;
        assert!(judge("sync", &[refused]).text.ends_with("answered 400"));
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(seconds(Duration::from_micros(1234)), "1.2 ms");
        assert_eq!(seconds(ms(3004)), "3.00 s");
    }

    #[test]
    fn judged_by_quick_requests_a_slow_computation_alone_is_not_blocking() {
        // 500 ms of CPU that took 560 ms of wall time on a shared machine, and a quick /nosleep.
        let requests = [
            request("/compute?seconds=0.5", 500, 0, 560, 7),
            request("/nosleep", 0, 200, 201, 8),
        ];
        assert!(judge("sync-threads", &requests).blocked, "by any request");
        let quick = judge_by("sync-threads", &requests, JudgedBy::QuickRequests);
        assert!(!quick.blocked, "{}", quick.text);
        // A quick request held still counts.
        let held = [
            request("/compute?seconds=0.5", 500, 0, 560, 7),
            request("/nosleep", 0, 200, 560, 7),
        ];
        let verdict = judge_by("async", &held, JudgedBy::QuickRequests);
        assert!(verdict.blocked);
        assert!(
            verdict.text.contains("/nosleep waited 360.0 ms"),
            "{}",
            verdict.text
        );
    }
}
