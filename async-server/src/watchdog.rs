//! The blocked-loop report (`--warn-blocked MS`): a `BLOCKED` line on stdout while a worker's
//! runtime thread is kept from its event loop, naming the request that keeps it, and another
//! with the whole length once the thread is free.
//!
//! The held thread cannot report itself. So each worker's runtime runs a heartbeat task that
//! notes the time every tick, and a watchdog thread looks at those notes: one older than the
//! threshold means the runtime has not run its timers, nor anything else, for that long (a busy
//! runtime still runs its heartbeat between requests, so load alone is not reported). Which request
//! holds the thread is known because a request notes its method and target when it arrives, and
//! its future marks itself as the one being polled for as long as it is polled.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use shared::{Head, Identity, LogBuffer, Version};

/// How many arrived requests are remembered by name: one polled after that many others arrived
/// is reported without it.
const NAMES: usize = 64;

/// The longest a name keeps of a target (as the log does).
const NAME_LIMIT: usize = 256;

pub struct Watchdog {
    /// Report a runtime held longer than this.
    threshold: Duration,
    /// How often the heartbeats beat and the watchdog looks.
    tick: Duration,
    loops: Mutex<Vec<&'static Loop>>,
}

/// One worker's runtime, as the watchdog sees it.
pub struct Loop {
    epoch: Instant,
    tick: Duration,
    /// The runtime thread's native id, once its heartbeat has run.
    tid: AtomicU64,
    /// When the heartbeat last ran, in microseconds since `epoch`.
    beat: AtomicU64,
    /// The request being polled now (0: none).
    polled: AtomicU64,
    /// The number of the last request to arrive (they count from 1).
    arrived: AtomicU64,
    /// The last [`NAMES`] requests' method and target, by number.
    names: Vec<Mutex<Name>>,
    /// The runtime has ended: its silence means nothing.
    ended: AtomicBool,
}

#[derive(Default)]
struct Name {
    number: u64,
    method: String,
    target: String,
}

impl Watchdog {
    pub fn new(threshold: Duration) -> Watchdog {
        Watchdog {
            threshold,
            tick: (threshold / 10).clamp(Duration::from_millis(1), Duration::from_millis(10)),
            loops: Mutex::new(Vec::new()),
        }
    }

    /// A worker's runtime to watch; its heartbeat must be spawned on that runtime.
    pub fn watch(&self) -> &'static Loop {
        // Each worker's runtime lives as long as the process.
        let watched: &'static Loop = Box::leak(Box::new(Loop {
            epoch: Instant::now(),
            tick: self.tick,
            tid: AtomicU64::new(0),
            beat: AtomicU64::new(0),
            polled: AtomicU64::new(0),
            arrived: AtomicU64::new(0),
            names: (0..NAMES).map(|_| Mutex::default()).collect(),
            ended: AtomicBool::new(false),
        }));
        self.loops.lock().unwrap().push(watched);
        watched
    }

    /// Starts the thread that watches.
    pub fn start(&'static self) -> io::Result<()> {
        let watchdog = thread::Builder::new().name("watchdog".to_owned());
        watchdog.spawn(move || self.run()).map(drop)
    }

    fn run(&self) {
        // Per loop, while it is reported held: when it last beat, and who held it.
        let mut held: Vec<Option<(u64, Culprit)>> = Vec::new();
        let mut line = LogBuffer::new();
        loop {
            thread::sleep(self.tick);
            let loops = self.loops.lock().unwrap().clone();
            held.resize(loops.len(), None);
            for (watched, report) in loops.iter().zip(&mut held) {
                let beat = watched.beat.load(Ordering::Acquire);
                let tid = watched.tid.load(Ordering::Acquire);
                if tid == 0 || watched.ended.load(Ordering::Acquire) {
                    continue;
                }
                let who = Identity {
                    pid: std::process::id(),
                    tid,
                };
                let now = watched.now();
                let late = Duration::from_micros(now.saturating_sub(beat));
                match report {
                    None if late > self.threshold + self.tick => {
                        let culprit = watched.name(watched.polled.load(Ordering::Acquire));
                        line.blocked(who, head(&culprit), late, false);
                        *report = Some((beat, culprit));
                    }
                    Some((before, culprit)) if beat != *before => {
                        let whole = Duration::from_micros(beat.saturating_sub(*before));
                        line.blocked(who, head(culprit), whole, true);
                        *report = None;
                    }
                    _ => {}
                }
            }
            // Straight to stdout: the held thread's own log cannot go out meanwhile.
            let _ = line.write_to(&mut io::stdout().lock());
        }
    }
}

/// The method and target of the request that held a runtime, if it is known.
type Culprit = Option<(String, String)>;

fn head(name: &Culprit) -> Option<Head<'_>> {
    name.as_ref().map(|(method, target)| Head {
        method,
        target,
        version: Version::Http11,
    })
}

impl Loop {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Beats every tick, on the runtime it watches, for as long as that runtime runs.
    pub async fn heartbeat(&'static self) {
        self.tid.store(Identity::current().tid, Ordering::Release);
        loop {
            self.beat.store(self.now(), Ordering::Release);
            tokio::time::sleep(self.tick).await;
        }
    }

    /// The runtime has ended.
    pub fn end(&self) {
        self.ended.store(true, Ordering::Release);
    }

    /// Notes an arriving request; returns its number.
    fn arrived(&self, head: Head<'_>) -> u64 {
        let number = self.arrived.load(Ordering::Relaxed) + 1;
        self.arrived.store(number, Ordering::Relaxed); // only the runtime thread counts
        let mut name = self.names[number as usize % NAMES].lock().unwrap();
        name.number = number;
        name.method.clear();
        name.method.push_str(head.method);
        name.target.clear();
        let mut end = head.target.len().min(NAME_LIMIT);
        while !head.target.is_char_boundary(end) {
            end -= 1;
        }
        name.target.push_str(&head.target[..end]);
        number
    }

    /// The method and target of request `number`, if it is still remembered.
    fn name(&self, number: u64) -> Culprit {
        if number == 0 {
            return None;
        }
        let name = self.names[number as usize % NAMES].lock().unwrap();
        (name.number == number).then(|| (name.method.clone(), name.target.clone()))
    }
}

pin_project_lite::pin_project! {
    /// A request's future, which marks itself as the one being polled while it is (when its
    /// runtime is watched).
    pub struct Polled<F> {
        watched: Option<(&'static Loop, u64)>,
        #[pin]
        work: F,
    }
}

/// A request that has arrived on a runtime that may be watched.
pub struct Arrival(Option<(&'static Loop, u64)>);

/// Notes the request `head` arriving on a runtime that may be `watched`.
pub fn arrived(watched: Option<&'static Loop>, head: Head<'_>) -> Arrival {
    Arrival(watched.map(|watched| (watched, watched.arrived(head))))
}

impl Arrival {
    /// The request's future `work`, marked as that request whenever it is polled.
    pub fn polled<F: Future>(self, work: F) -> Polled<F> {
        Polled {
            watched: self.0,
            work,
        }
    }
}

impl<F: Future> Future for Polled<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let Some((watched, number)) = *this.watched else {
            return this.work.poll(context);
        };
        watched.polled.store(number, Ordering::Release);
        let polled = this.work.poll(context);
        watched.polled.store(0, Ordering::Release);
        polled
    }
}
