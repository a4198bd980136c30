//! The queueing model: a design as a set of FCFS stations, fed the very schedule the load
//! generator sent, predicts each request's latency. So every percentile measured has a predicted
//! twin, from the same arrivals, not from an average rate.
//!
//! A station has servers: the handler threads of a sync server, the one thread of an event
//! loop, the slots of a pool. A request goes through stages, in order: it *holds* a server of a
//! station for a time (waiting, first come first served, if all are busy), or it is *delayed* for
//! a time without holding anything (an event loop's timer or socket wait). How a design maps
//! onto stations is the caller's: one thread holds its one server for the whole request, wait
//! included; an event loop holds its thread only for the request's CPU, and its waits are delays.
//!
//! The simulation is event by event, in time order, in whole nanoseconds, so that it gives the
//! same answer on every machine.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

use crate::schedule::Due;

/// A set of identical servers with one FCFS queue.
#[derive(Clone, Debug, PartialEq)]
pub struct Station {
    pub name: String,
    pub servers: usize,
}

/// One step of a request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stage {
    /// Holds a server of station `station` (an index) for `time`.
    Hold { station: usize, time: Duration },
    /// Waits `time` holding nothing.
    Delay(Duration),
}

/// A design: its stations, and each class's stages.
#[derive(Clone, Debug, PartialEq)]
pub struct Design {
    pub stations: Vec<Station>,
    pub classes: Vec<Vec<Stage>>,
}

impl Design {
    /// The highest arrival rate it can keep up with, for a mix with these shares of each class:
    /// each station can serve at most its servers' worth of holding per second, so the rate is
    /// at most `servers / (demand per request)` at every station (the busiest is the knee).
    pub fn capacity(&self, shares: &[f64]) -> f64 {
        let mut capacity = f64::INFINITY;
        for (at, station) in self.stations.iter().enumerate() {
            let demand: f64 = self
                .classes
                .iter()
                .zip(shares)
                .map(|(stages, share)| share * held_at(stages, at).as_secs_f64())
                .sum();
            if demand > 0.0 {
                capacity = capacity.min(station.servers as f64 / demand);
            }
        }
        capacity
    }

    /// The load on the busiest station at `rate`: 1 is the knee.
    pub fn utilisation(&self, rate: f64, shares: &[f64]) -> f64 {
        rate / self.capacity(shares)
    }
}

/// How long `stages` hold station `station` in all.
fn held_at(stages: &[Stage], station: usize) -> Duration {
    stages
        .iter()
        .map(|stage| match *stage {
            Stage::Hold { station: s, time } if s == station => time,
            _ => Duration::ZERO,
        })
        .sum()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// The request reaches its next stage.
    Reaches(usize),
    /// The request is done holding its station's server.
    Releases(usize),
}

/// Each request's latency, from when it was due to when its last stage ends, in the order of
/// `schedule`.
pub fn predict(design: &Design, schedule: &[Due]) -> Vec<Duration> {
    let mut stage = vec![0usize; schedule.len()];
    let mut done = vec![0u64; schedule.len()];
    let mut busy = vec![0usize; design.stations.len()];
    let mut queues: Vec<VecDeque<usize>> = vec![VecDeque::new(); design.stations.len()];
    // (time in ns, order of pushing, event): the order breaks ties the same way every run.
    let mut events = BinaryHeap::new();
    let mut pushed = 0u64;
    let mut push = |events: &mut BinaryHeap<_>, at: u64, event: Event| {
        events.push(Reverse((at, pushed, event)));
        pushed += 1;
    };
    for (request, due) in schedule.iter().enumerate() {
        push(&mut events, nanos(due.at), Event::Reaches(request));
    }
    let hold_time = |request: usize, stage: usize| -> u64 {
        match design.classes[schedule[request].class][stage] {
            Stage::Hold { time, .. } => nanos(time),
            Stage::Delay(_) => unreachable!("only a hold is queued"),
        }
    };
    while let Some(Reverse((now, _, event))) = events.pop() {
        match event {
            Event::Reaches(request) => {
                let stages = &design.classes[schedule[request].class];
                match stages.get(stage[request]) {
                    None => done[request] = now,
                    Some(&Stage::Delay(time)) => {
                        stage[request] += 1;
                        push(&mut events, now + nanos(time), Event::Reaches(request));
                    }
                    Some(&Stage::Hold { station, time }) => {
                        if busy[station] < design.stations[station].servers {
                            busy[station] += 1;
                            push(&mut events, now + nanos(time), Event::Releases(request));
                        } else {
                            queues[station].push_back(request);
                        }
                    }
                }
            }
            Event::Releases(request) => {
                let stages = &design.classes[schedule[request].class];
                let Stage::Hold { station, .. } = stages[stage[request]] else {
                    unreachable!("a release ends a hold");
                };
                match queues[station].pop_front() {
                    // The server goes straight to the next in line.
                    Some(next) => {
                        let time = hold_time(next, stage[next]);
                        push(&mut events, now + time, Event::Releases(next));
                    }
                    None => busy[station] -= 1,
                }
                stage[request] += 1;
                push(&mut events, now, Event::Reaches(request));
            }
        }
    }
    schedule
        .iter()
        .zip(done)
        .map(|(due, done)| Duration::from_nanos(done - nanos(due.at)))
        .collect()
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mix::Mix;
    use crate::schedule::{draw, Arrivals};

    const MS: Duration = Duration::from_millis(1);

    fn one_station(servers: usize, classes: Vec<Duration>) -> Design {
        Design {
            stations: vec![Station {
                name: "threads".to_owned(),
                servers,
            }],
            classes: classes
                .into_iter()
                .map(|time| vec![Stage::Hold { station: 0, time }])
                .collect(),
        }
    }

    fn mean(latencies: &[Duration]) -> f64 {
        latencies.iter().map(Duration::as_secs_f64).sum::<f64>() / latencies.len() as f64
    }

    /// Enough arrivals for a mean within a few percent: 200,000 at the rate.
    fn schedule(rate: f64, mix: &Mix) -> Vec<Due> {
        draw(
            rate,
            Duration::from_secs_f64(200_000.0 / rate),
            Arrivals::Poisson,
            mix,
            42,
        )
    }

    #[test]
    fn one_server_agrees_with_pollaczek_khinchine() {
        // M/G/1: 90% of 1 ms, 10% of 10 ms (the project's mix), at 300/s (ρ = 0.57).
        let mix = Mix::parse("/quick=9,/slow=1").unwrap();
        let design = one_station(1, vec![MS, MS * 10]);
        let rate = 300.0;
        let (s1, s2) = (0.9 * 1e-3 + 0.1 * 10e-3, 0.9 * 1e-6 + 0.1 * 100e-6);
        let rho = rate * s1;
        let expected = rate * s2 / (2.0 * (1.0 - rho)) + s1;
        let predicted = mean(&predict(&design, &schedule(rate, &mix)));
        assert!(
            (predicted / expected - 1.0).abs() < 0.03,
            "{predicted} against {expected}"
        );
        assert!((design.capacity(&mix.shares()) - 1.0 / s1).abs() < 1e-6);
    }

    #[test]
    fn several_servers_agree_with_erlang_c() {
        // M/M/4 at ρ = 0.8: exponential service times of mean 10 ms, as 1,000 classes at the
        // distribution's quantiles, drawn alike.
        let classes = 1000;
        let mu = 100.0;
        let times = (0..classes)
            .map(|k| {
                let q = (k as f64 + 0.5) / classes as f64;
                Duration::from_secs_f64(-(1.0 - q).ln() / mu)
            })
            .collect();
        let mix = Mix::parse(&vec!["/s"; classes].join(",")).unwrap();
        let (c, rate) = (4usize, 320.0);
        let a = rate / mu; // offered load in servers
        let rho = a / c as f64;
        let factorial = |n: usize| (1..=n).map(|k| k as f64).product::<f64>();
        let below: f64 = (0..c).map(|k| a.powi(k as i32) / factorial(k)).sum();
        let top = a.powi(c as i32) / factorial(c) / (1.0 - rho);
        let erlang_c = top / (below + top);
        let expected = erlang_c / (c as f64 * mu - rate) + 1.0 / mu;
        let predicted = mean(&predict(&one_station(c, times), &schedule(rate, &mix)));
        assert!(
            (predicted / expected - 1.0).abs() < 0.03,
            "{predicted} against {expected}"
        );
    }

    #[test]
    fn an_event_loop_holds_only_the_cpu_and_a_pool_holds_its_slots() {
        // One loop thread, 1 ms of CPU, then a 50 ms timer: two requests at once both finish at
        // 51 and 52 ms; on a pool of one slot instead of the timer, the second waits for the slot.
        let at_once = [
            Due {
                at: Duration::ZERO,
                class: 0,
            },
            Due {
                at: Duration::ZERO,
                class: 0,
            },
        ];
        let stations = vec![
            Station {
                name: "loop".to_owned(),
                servers: 1,
            },
            Station {
                name: "pool".to_owned(),
                servers: 1,
            },
        ];
        let timer = Design {
            stations: stations.clone(),
            classes: vec![vec![
                Stage::Hold {
                    station: 0,
                    time: MS,
                },
                Stage::Delay(MS * 50),
            ]],
        };
        assert_eq!(predict(&timer, &at_once), vec![MS * 51, MS * 52]);
        let pooled = Design {
            stations,
            classes: vec![vec![
                Stage::Hold {
                    station: 0,
                    time: MS,
                },
                Stage::Hold {
                    station: 1,
                    time: MS * 50,
                },
            ]],
        };
        assert_eq!(predict(&pooled, &at_once), vec![MS * 51, MS * 101]);
        assert!(
            (pooled.capacity(&[1.0]) - 20.0).abs() < 1e-9,
            "the pool is the knee"
        );
        let thread = one_station(1, vec![MS * 51]);
        assert_eq!(predict(&thread, &at_once), vec![MS * 51, MS * 102]);
    }
}
