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
//!
//! An idle server wakes for nothing, so both rest when there is nothing to watch: a runtime with
//! no request in flight for a whole tick cannot be held by one, and its heartbeat waits for the
//! next request to arrive instead of a timer; the watchdog thread, once every runtime rests,
//! waits to be woken by that arrival too.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use shared::{Head, Identity, LogBuffer, Version};
use tokio::sync::Notify;

/// How many arrived requests are remembered by name: one polled after that many others arrived
/// is reported without it.
const NAMES: usize = 64;

/// The longest a name keeps of a method and target (the log cuts each at 256 bytes).
const NAME_LIMIT: usize = 256;

pub struct Watchdog {
    /// Report a runtime held longer than this.
    threshold: Duration,
    /// How often the heartbeats beat and the watchdog looks.
    tick: Duration,
    loops: Mutex<Vec<&'static Loop>>,
    /// The watchdog thread, for an arriving request to wake it from a rest.
    thread: OnceLock<Thread>,
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
    names: Vec<Name>,
    /// Requests arrived and not yet done (only the runtime thread counts them).
    in_flight: AtomicUsize,
    /// The heartbeat has stopped until a request arrives: its silence means nothing.
    resting: AtomicBool,
    /// Rung by an arriving request when the heartbeat rests.
    arrival: Notify,
    /// The watchdog thread, to wake when a request arrives at a resting runtime.
    watchdog: &'static OnceLock<Thread>,
    /// The runtime has ended: its silence means nothing.
    ended: AtomicBool,
}

/// A request's `method target`, written by the runtime thread as it arrives and read by the
/// watchdog only when it reports: a sequence lock over atomic words, so that neither ever waits
/// for the other. Its `number` is 0 while it is being written.
struct Name {
    number: AtomicU64,
    len: AtomicUsize,
    words: [AtomicU64; NAME_LIMIT / 8],
}

impl Name {
    fn new() -> Name {
        Name {
            number: AtomicU64::new(0),
            len: AtomicUsize::new(0),
            words: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    fn write(&self, number: u64, method: &str, target: &str) {
        self.number.store(0, Ordering::Relaxed);
        fence(Ordering::Release);
        // The method, a space, then as much of the target as fits.
        let mut buffer = [0u8; NAME_LIMIT];
        let method = method.as_bytes();
        let target = target.as_bytes();
        let head = method.len().min(NAME_LIMIT - 1);
        buffer[..head].copy_from_slice(&method[..head]);
        buffer[head] = b' ';
        let tail = target.len().min(NAME_LIMIT - head - 1);
        buffer[head + 1..head + 1 + tail].copy_from_slice(&target[..tail]);
        let len = head + 1 + tail;
        // Whole words, the last one padded with the buffer's zeros.
        for (word, eight) in self
            .words
            .iter()
            .zip(buffer.chunks_exact(8))
            .take(len.div_ceil(8))
        {
            let eight = eight.try_into().expect("eight bytes");
            word.store(u64::from_le_bytes(eight), Ordering::Relaxed);
        }
        self.len.store(len, Ordering::Relaxed);
        self.number.store(number, Ordering::Release);
    }

    /// The name of request `number`, unless it has been overwritten (or is being).
    fn read(&self, number: u64) -> Option<String> {
        if self.number.load(Ordering::Acquire) != number {
            return None;
        }
        let len = self.len.load(Ordering::Relaxed).min(NAME_LIMIT);
        let bytes: Vec<u8> = self.words[..len.div_ceil(8)]
            .iter()
            .flat_map(|word| word.load(Ordering::Relaxed).to_le_bytes())
            .take(len)
            .collect();
        fence(Ordering::Acquire);
        (self.number.load(Ordering::Relaxed) == number)
            .then(|| String::from_utf8_lossy(&bytes).into_owned())
    }
}

impl Watchdog {
    pub fn new(threshold: Duration) -> Watchdog {
        Watchdog {
            threshold,
            tick: (threshold / 4).clamp(Duration::from_millis(1), Duration::from_millis(25)),
            loops: Mutex::new(Vec::new()),
            thread: OnceLock::new(),
        }
    }

    /// A worker's runtime to watch; its heartbeat must be spawned on that runtime.
    pub fn watch(&'static self) -> &'static Loop {
        // Each worker's runtime lives as long as the process.
        let watched: &'static Loop = Box::leak(Box::new(Loop {
            epoch: Instant::now(),
            tick: self.tick,
            tid: AtomicU64::new(0),
            beat: AtomicU64::new(0),
            polled: AtomicU64::new(0),
            arrived: AtomicU64::new(0),
            names: (0..NAMES).map(|_| Name::new()).collect(),
            in_flight: AtomicUsize::new(0),
            resting: AtomicBool::new(true), // until its first request
            arrival: Notify::new(),
            watchdog: &self.thread,
            ended: AtomicBool::new(false),
        }));
        self.loops.lock().unwrap().push(watched);
        watched
    }

    /// Starts the thread that watches (before any request can arrive).
    pub fn start(&'static self) -> io::Result<()> {
        let watchdog = thread::Builder::new().name("watchdog".to_owned());
        let started = watchdog.spawn(move || self.run())?;
        let _ = self.thread.set(started.thread().clone());
        Ok(())
    }

    fn run(&self) {
        // Per loop, while it is reported held: when it last beat, and who held it.
        let mut held: Vec<Option<(u64, Culprit)>> = Vec::new();
        let mut line = LogBuffer::new();
        loop {
            let loops = self.loops.lock().unwrap().clone();
            held.resize(loops.len(), None);
            // A runtime at rest is not watched, unless its report still awaits the whole length.
            let watched = |(watched, report): (&&Loop, &Option<_>)| {
                !watched.ended.load(Ordering::Acquire)
                    && (report.is_some() || !watched.resting.load(Ordering::Acquire))
            };
            if !loops.iter().zip(&held).any(watched) {
                thread::park(); // until a request arrives (or for nothing: then this looks again)
                continue;
            }
            thread::sleep(self.tick);
            for (watched, report) in loops.iter().zip(&mut held) {
                // Read before the beat: an arrival ends a rest only after it has set the beat.
                let resting = watched.resting.load(Ordering::Acquire);
                let beat = watched.beat.load(Ordering::Acquire);
                let tid = watched.tid.load(Ordering::Acquire);
                if tid == 0 || watched.ended.load(Ordering::Acquire) || resting && report.is_none()
                {
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

    /// Beats every tick, on the runtime it watches, while requests run there; rests otherwise.
    pub async fn heartbeat(&'static self) {
        self.tid.store(Identity::current().tid, Ordering::Release);
        let mut seen = 0;
        loop {
            if self.arrived.load(Ordering::Relaxed) == seen
                && self.in_flight.load(Ordering::Relaxed) == 0
            {
                // No request for a whole tick: none can hold the thread until the next arrives.
                self.resting.store(true, Ordering::Release);
                self.arrival.notified().await;
            }
            seen = self.arrived.load(Ordering::Relaxed);
            self.beat.store(self.now(), Ordering::Release);
            tokio::time::sleep(self.tick).await;
        }
    }

    /// The runtime has ended.
    pub fn end(&self) {
        self.ended.store(true, Ordering::Release);
    }

    /// Notes an arriving request, waking the heartbeat and the watchdog if they rest; returns
    /// its number.
    fn arrived(&self, head: Head<'_>) -> u64 {
        // Only the runtime thread counts, so a load and a store are enough.
        let number = self.arrived.load(Ordering::Relaxed) + 1;
        self.arrived.store(number, Ordering::Relaxed);
        let in_flight = self.in_flight.load(Ordering::Relaxed);
        self.in_flight.store(in_flight + 1, Ordering::Relaxed);
        self.names[number as usize % NAMES].write(number, head.method, head.target);
        if self.resting.load(Ordering::Relaxed) {
            // From now on the thread may be held: its time starts here, not at the last beat.
            self.beat.store(self.now(), Ordering::Release);
            self.resting.store(false, Ordering::Release);
            self.arrival.notify_one();
            if let Some(watchdog) = self.watchdog.get() {
                watchdog.unpark();
            }
        }
        number
    }

    /// A request is done (answered, or dropped with its connection).
    fn done(&self) {
        let in_flight = self.in_flight.load(Ordering::Relaxed);
        self.in_flight.store(in_flight - 1, Ordering::Relaxed);
    }

    /// The method and target of request `number`, if it is still remembered.
    fn name(&self, number: u64) -> Culprit {
        if number == 0 {
            return None;
        }
        let name = self.names[number as usize % NAMES].read(number)?;
        let (method, target) = name.split_once(' ')?;
        Some((method.to_owned(), target.to_owned()))
    }
}

pin_project_lite::pin_project! {
    /// A request's future, which marks itself as the one being polled while it is (when its
    /// runtime is watched).
    pub struct Polled<F> {
        arrival: Arrival,
        #[pin]
        work: F,
    }
}

/// A request that has arrived on a runtime that may be watched, until it is done.
pub struct Arrival(Option<(&'static Loop, u64)>);

impl Drop for Arrival {
    fn drop(&mut self) {
        if let Some((watched, _)) = self.0 {
            watched.done();
        }
    }
}

/// Notes the request whose head is `head()` arriving on a runtime that may be `watched` (the head
/// is read only if it is).
pub fn arrived<'a>(watched: Option<&'static Loop>, head: impl FnOnce() -> Head<'a>) -> Arrival {
    Arrival(watched.map(|watched| (watched, watched.arrived(head()))))
}

impl Arrival {
    /// The request's future `work`, marked as that request whenever it is polled.
    pub fn polled<F: Future>(self, work: F) -> Polled<F> {
        Polled {
            arrival: self,
            work,
        }
    }
}

impl<F: Future> Future for Polled<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let Some((watched, number)) = this.arrival.0 else {
            return this.work.poll(context);
        };
        watched.polled.store(number, Ordering::Release);
        let polled = this.work.poll(context);
        watched.polled.store(0, Ordering::Release);
        polled
    }
}
