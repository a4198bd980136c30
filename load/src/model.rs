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

/// What clients do when the server is slow, and what the server does about requests it cannot
/// serve in time: the model of overload.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Patience {
    /// A client gives up this long after its request was due.
    pub timeout: Duration,
    /// How many more times a client sends a request it gave up on or that was shed, at once.
    pub retries: u32,
    /// The station whose queue the server looks at as a request leaves it, if any (sync-server's
    /// handler threads, async-server's blocking pool). The event loop's queue is the kernel's,
    /// and nothing looks at it.
    pub watched: Option<usize>,
    /// There, a request that waited longer than this is shed: answered `503` at once, holding
    /// no server (`--queue-deadline`).
    pub deadline: Option<Duration>,
    /// There, a request whose client has given up is dropped, holding no server.
    pub skips_gone: bool,
    /// At most this many requests in the server at once; one arriving past it is answered
    /// `503` at once, holding nothing (uvicorn's `--limit-concurrency`).
    pub admission: Option<usize>,
}

impl Patience {
    /// Clients that wait for ever, and a server that serves everything: plain queueing.
    pub const ENDLESS: Patience = Patience {
        timeout: Duration::MAX,
        retries: 0,
        watched: None,
        deadline: None,
        skips_gone: false,
        admission: None,
    };
}

/// How a request ended, as its client saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Answered,
    /// Answered `503` by the deadline, without its work.
    Shed,
    /// Its client gave up waiting (whatever the server went on to do with it).
    GaveUp,
}

/// One request the model saw: one of the schedule's, or a client's retry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Attempt {
    pub due: Duration,
    /// When its client had its answer, or gave up.
    pub done: Duration,
    pub class: usize,
    /// 0 for the schedule's request, 1 for its first retry, and so on.
    pub retry: u32,
    pub fate: Fate,
}

impl Attempt {
    pub fn latency(&self) -> Duration {
        self.done - self.due
    }
}

/// Each request's latency, from when it was due to when its last stage ends, in the order of
/// `schedule`.
pub fn predict(design: &Design, schedule: &[Due]) -> Vec<Duration> {
    let attempts = simulate(design, schedule, &Patience::ENDLESS);
    attempts.iter().map(Attempt::latency).collect()
}

/// What happens to each request of `schedule`, and to each retry, with clients and a server
/// that behave as `patience` says: first the schedule's requests, in its order, then the
/// retries, in the order they were sent.
pub fn simulate(design: &Design, schedule: &[Due], patience: &Patience) -> Vec<Attempt> {
    let mut run = Simulation {
        design,
        patience,
        requests: Vec::with_capacity(schedule.len()),
        busy: vec![0; design.stations.len()],
        queues: vec![VecDeque::new(); design.stations.len()],
        inside: 0,
        events: BinaryHeap::new(),
        pushed: 0,
    };
    for due in schedule {
        run.arrive(nanos(due.at), due.class, 0);
    }
    while let Some(Reverse((now, _, event))) = run.events.pop() {
        match event {
            Event::Reaches(request) => run.reach(now, request),
            Event::Releases(request) => run.release(now, request),
            Event::GivesUp(request) => run.give_up(now, request),
        }
    }
    let (first, retries): (Vec<_>, Vec<_>) = run
        .requests
        .into_iter()
        .map(|r| Attempt {
            due: Duration::from_nanos(r.due),
            done: Duration::from_nanos(r.done.expect("every request ends")),
            class: r.class,
            retry: r.retry,
            fate: r.fate.expect("every request ends"),
        })
        .partition(|a| a.retry == 0);
    first.into_iter().chain(retries).collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// The request reaches its next stage.
    Reaches(usize),
    /// The request is done holding its station's server.
    Releases(usize),
    /// Its client's patience runs out.
    GivesUp(usize),
}

/// A request in the simulation; times in nanoseconds from the start.
struct Request {
    due: u64,
    class: usize,
    retry: u32,
    stage: usize,
    /// When it joined the queue it is in.
    queued: u64,
    /// When its client had its answer or gave up, and how.
    done: Option<u64>,
    fate: Option<Fate>,
    /// Whether the server took it in and has not yet let it go.
    inside: bool,
}

struct Simulation<'a> {
    design: &'a Design,
    patience: &'a Patience,
    requests: Vec<Request>,
    busy: Vec<usize>,
    queues: Vec<VecDeque<usize>>,
    /// How many requests the server has taken in and not yet let go.
    inside: usize,
    /// (time, order of pushing, event): the order breaks ties the same way every run.
    events: BinaryHeap<Reverse<(u64, u64, Event)>>,
    pushed: u64,
}

impl Simulation<'_> {
    fn push(&mut self, at: u64, event: Event) {
        self.events.push(Reverse((at, self.pushed, event)));
        self.pushed += 1;
    }

    fn arrive(&mut self, at: u64, class: usize, retry: u32) {
        let request = self.requests.len();
        self.requests.push(Request {
            due: at,
            class,
            retry,
            stage: 0,
            queued: at,
            done: None,
            fate: None,
            inside: false,
        });
        self.push(at, Event::Reaches(request));
        if self.patience.timeout != Duration::MAX {
            self.push(at + nanos(self.patience.timeout), Event::GivesUp(request));
        }
    }

    fn stages(&self, request: usize) -> &[Stage] {
        &self.design.classes[self.requests[request].class]
    }

    fn reach(&mut self, now: u64, request: usize) {
        if self.requests[request].stage == 0 && !self.requests[request].inside {
            if self
                .patience
                .admission
                .is_some_and(|most| self.inside >= most)
            {
                self.end(now, request, Fate::Shed);
                return;
            }
            self.requests[request].inside = true;
            self.inside += 1;
        }
        match self
            .stages(request)
            .get(self.requests[request].stage)
            .copied()
        {
            None => {
                self.let_go(request);
                self.end(now, request, Fate::Answered);
            }
            Some(Stage::Delay(time)) => {
                self.requests[request].stage += 1;
                self.push(now + nanos(time), Event::Reaches(request));
            }
            Some(Stage::Hold { station, time }) => {
                if self.busy[station] < self.design.stations[station].servers {
                    self.busy[station] += 1;
                    self.push(now + nanos(time), Event::Releases(request));
                } else {
                    self.requests[request].queued = now;
                    self.queues[station].push_back(request);
                }
            }
        }
    }

    fn release(&mut self, now: u64, request: usize) {
        let stage = self.requests[request].stage;
        let Stage::Hold { station, .. } = self.stages(request)[stage] else {
            unreachable!("a release ends a hold");
        };
        // The server goes straight to the next in line that it will serve.
        match self.next_served(now, station) {
            Some(next) => {
                let Stage::Hold { time, .. } = self.stages(next)[self.requests[next].stage] else {
                    unreachable!("only a hold is queued");
                };
                self.push(now + nanos(time), Event::Releases(next));
            }
            None => self.busy[station] -= 1,
        }
        self.requests[request].stage += 1;
        self.push(now, Event::Reaches(request));
    }

    /// Takes requests off `station`'s queue until one is to be served; where the server looks,
    /// those whose client has gone are dropped and those past the deadline are shed.
    fn next_served(&mut self, now: u64, station: usize) -> Option<usize> {
        let patience = *self.patience;
        while let Some(next) = self.queues[station].pop_front() {
            if patience.watched != Some(station) {
                return Some(next);
            }
            let gone = self.requests[next].fate == Some(Fate::GaveUp);
            let waited = now - self.requests[next].queued;
            if gone && patience.skips_gone {
                self.let_go(next);
                continue;
            }
            if patience
                .deadline
                .is_some_and(|deadline| waited > nanos(deadline))
            {
                self.let_go(next);
                self.end(now, next, Fate::Shed);
                continue;
            }
            return Some(next);
        }
        None
    }

    /// The server is done with `request`, served or not.
    fn let_go(&mut self, request: usize) {
        if std::mem::take(&mut self.requests[request].inside) {
            self.inside -= 1;
        }
    }

    fn give_up(&mut self, now: u64, request: usize) {
        if self.requests[request].fate.is_none() {
            self.end(now, request, Fate::GaveUp);
        }
    }

    /// The client's view of `request` ends now, as `fate`, unless it already has; one it gave
    /// up on or that was shed is sent again while it has retries left.
    fn end(&mut self, now: u64, request: usize, fate: Fate) {
        let ended = &mut self.requests[request];
        if ended.fate.is_some() {
            return;
        }
        ended.fate = Some(fate);
        ended.done = Some(now);
        let (class, retry) = (ended.class, ended.retry);
        if fate != Fate::Answered && retry < self.patience.retries {
            self.arrive(now, class, retry + 1);
        }
    }
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

    #[test]
    fn past_the_knee_a_deadline_keeps_serving_where_a_plain_queue_serves_no_one() {
        // One server of 10 ms (100/s), sent 200/s evenly for 2 s, then 50/s for 5 s; clients
        // wait 0.5 s.
        let mix = Mix::parse("/s").unwrap();
        let mut schedule = draw(200.0, Duration::from_secs(2), Arrivals::Even, &mix, 1);
        let after = draw(50.0, Duration::from_secs(5), Arrivals::Even, &mix, 1);
        schedule.extend(after.into_iter().map(|due| Due {
            at: due.at + Duration::from_secs(2),
            ..due
        }));
        let design = one_station(1, vec![MS * 10]);
        let in_time = |attempts: &[Attempt], from: f64, to: f64| {
            let between = attempts
                .iter()
                .filter(|a| (from..to).contains(&a.due.as_secs_f64()));
            between.filter(|a| a.fate == Fate::Answered).count()
        };
        let plain = Patience {
            timeout: MS * 500,
            ..Patience::ENDLESS
        };
        // The queue's wait passes the clients' patience after about 0.5 s; from then on every
        // answer comes after its client left, and the backlog of 200 requests left at the drop
        // drains at 50/s: the work waiting passes back under 0.5 s only 3 s after the drop.
        let queued = simulate(&design, &schedule, &plain);
        assert_eq!(queued.len(), schedule.len());
        assert_eq!(in_time(&queued, 1.0, 4.9), 0);
        assert!(in_time(&queued, 5.5, 7.0) > 70);
        // Dropping the gone ones keeps the wait at the patience: still no answer in time (each
        // starts just before its client leaves), but no backlog is left at the drop.
        let skipping = Patience {
            watched: Some(0),
            skips_gone: true,
            ..plain
        };
        let skipped = simulate(&design, &schedule, &skipping);
        assert!(in_time(&skipped, 1.0, 2.0) < 20);
        assert!(in_time(&skipped, 2.6, 4.0) > 65);
        // A deadline of 50 ms serves about 100/s, each within the deadline and its service.
        let shedding = Patience {
            deadline: Some(MS * 50),
            ..skipping
        };
        let shed = simulate(&design, &schedule, &shedding);
        let served = in_time(&shed, 1.0, 2.0);
        assert!((90..=110).contains(&served), "{served} served in 1 s");
        let answered = shed.iter().filter(|a| a.fate == Fate::Answered);
        assert!(answered.clone().all(|a| a.latency() <= MS * 61));
        assert!(shed.iter().any(|a| a.fate == Fate::Shed));
        // Each shed or given-up request is sent once more with one retry, and only once.
        let retried = simulate(
            &design,
            &schedule,
            &Patience {
                retries: 1,
                ..shedding
            },
        );
        assert_eq!(retried.len(), schedule.len() + failed_first(&retried));
        assert!(retried.iter().any(|a| a.retry == 1) && retried.iter().all(|a| a.retry <= 1));
    }

    #[test]
    fn an_admission_limit_answers_503_at_once_past_it() {
        // Ten requests at once on one server of 10 ms, at most three inside: three are served,
        // one after another, and seven are answered 503 as they arrive.
        let at_once = vec![
            Due {
                at: Duration::ZERO,
                class: 0,
            };
            10
        ];
        let limited = Patience {
            admission: Some(3),
            ..Patience::ENDLESS
        };
        let attempts = simulate(&one_station(1, vec![MS * 10]), &at_once, &limited);
        let served: Vec<Duration> = attempts
            .iter()
            .filter(|a| a.fate == Fate::Answered)
            .map(Attempt::latency)
            .collect();
        assert_eq!(served, vec![MS * 10, MS * 20, MS * 30]);
        let shed = attempts.iter().filter(|a| a.fate == Fate::Shed);
        assert!(shed.clone().count() == 7 && shed.clone().all(|a| a.latency() == Duration::ZERO));
    }

    /// How many of the schedule's own requests were not answered (each is retried once).
    fn failed_first(attempts: &[Attempt]) -> usize {
        let first = attempts.iter().filter(|a| a.retry == 0);
        first.filter(|a| a.fate != Fate::Answered).count()
    }
}
