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
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use shared::{Head, Identity, LogBuffer, Version};

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
            names: (0..NAMES).map(|_| Name::new()).collect(),
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
        self.names[number as usize % NAMES].write(number, head.method, head.target);
        number
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
        watched: Option<(&'static Loop, u64)>,
        #[pin]
        work: F,
    }
}

/// A request that has arrived on a runtime that may be watched.
pub struct Arrival(Option<(&'static Loop, u64)>);

/// Notes the request whose head is `head()` arriving on a runtime that may be `watched` (the head
/// is read only if it is).
pub fn arrived<'a>(watched: Option<&'static Loop>, head: impl FnOnce() -> Head<'a>) -> Arrival {
    Arrival(watched.map(|watched| (watched, watched.arrived(head()))))
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
