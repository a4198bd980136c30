//! The open-loop client: every request of the schedule starts when it is due, whatever the
//! earlier ones are doing, and is timed from when it was due.
//!
//! One tokio `current_thread` runtime sends everything. A scheduler task sleeps until just before
//! each request is due, then yields to the runtime until the moment itself (tokio's timer ticks
//! in whole milliseconds, too coarse to start a request within one), and spawns the request as a
//! task of its own. So no request waits for another: each opens a connection of its own, as a
//! browser tab would, or with keep-alive takes an idle one if there is one and opens one if not.
//! The moment a request's bytes start out (`sent`) is kept beside the moment it was due: their
//! difference is the client's own lateness, which says whether the run measured the server or
//! the client.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::LocalSet;
use tokio::time::Instant;

use crate::mix::Mix;
use crate::schedule::Due;

/// How long before a request is due the scheduler stops sleeping and starts yielding: more than
/// tokio's timer and the kernel's wait can each add, rounding up to a millisecond.
const SPIN: Duration = Duration::from_micros(2500);

/// How long after the runtime starts the first moment of the schedule is: time to settle.
const LEAD: Duration = Duration::from_millis(20);

/// The most bytes of an answer's head read before it is taken as not HTTP.
const MAX_HEAD: usize = 64 * 1024;

/// Why a request got no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The connection was refused.
    Refused,
    /// The connection was reset.
    Reset,
    /// No answer within the timeout (from when it was due).
    TimedOut,
    /// The server closed the connection before a whole answer.
    Closed,
    /// What came back was not an HTTP answer.
    Malformed,
}

/// What happened to one request of the schedule; times are from the start of the run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    pub due: Duration,
    /// When its first byte went out (`None`: it never did, as when refused).
    pub sent: Option<Duration>,
    /// When its answer was complete, or it failed.
    pub done: Duration,
    pub class: usize,
    /// 0 for the request of the schedule; 1 for its first retry, and so on.
    pub retry: u32,
    /// The answer's status, or why there was none.
    pub result: Result<u16, Failure>,
}

impl Outcome {
    /// Whether a client that retries would try again after this: it gave up waiting, or the
    /// server said to come back later (`503`).
    pub fn retryable(&self) -> bool {
        matches!(self.result, Err(Failure::TimedOut) | Ok(503))
    }
}

/// What to send, where, and how.
pub struct Plan<'a> {
    pub addr: SocketAddr,
    /// The `Host` header.
    pub host: &'a str,
    pub mix: &'a Mix,
    pub schedule: &'a [Due],
    pub keep_alive: bool,
    /// How long after it was due a request is given up.
    pub timeout: Duration,
    /// How many more times a request is sent after it was given up or answered `503`, each at
    /// once, as a new request due then.
    pub retries: u32,
}

/// Sends the schedule and returns what happened to each request: first the schedule's, in its
/// order, then the retries, in the order they ended. Ends by itself: every request is answered,
/// fails or is given up by its timeout.
pub fn run(plan: &Plan) -> io::Result<Vec<Outcome>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = LocalSet::new();
    Ok(local.block_on(&runtime, send_all(plan)))
}

/// The connections kept open for reuse, with `--keep-alive`.
type Idle = Rc<RefCell<Vec<TcpStream>>>;

async fn send_all(plan: &Plan<'_>) -> Vec<Outcome> {
    let start = Instant::now() + LEAD;
    let outcomes: Rc<RefCell<Vec<Option<Outcome>>>> =
        Rc::new(RefCell::new(vec![None; plan.schedule.len()]));
    let retried: Rc<RefCell<Vec<Outcome>>> = Rc::default();
    let idle: Idle = Rc::default();
    let requests: Vec<Rc<[u8]>> = plan
        .mix
        .0
        .iter()
        .map(|class| request_bytes(&class.path, plan.host, plan.keep_alive).into())
        .collect();
    let mut tasks = Vec::with_capacity(plan.schedule.len());
    for (number, &due) in plan.schedule.iter().enumerate() {
        let at = start + due.at;
        if at > Instant::now() + SPIN {
            tokio::time::sleep_until(at - SPIN).await;
        }
        while Instant::now() < at {
            tokio::task::yield_now().await;
        }
        let request = Rc::clone(&requests[due.class]);
        let (outcomes, retried, idle) =
            (Rc::clone(&outcomes), Rc::clone(&retried), Rc::clone(&idle));
        let (addr, timeout, keep_alive) = (plan.addr, plan.timeout, plan.keep_alive);
        let retries = plan.retries;
        tasks.push(tokio::task::spawn_local(async move {
            let mut due_at = at;
            for retry in 0..=retries {
                let mut sent = None;
                let exchange = one(addr, &request, keep_alive, &idle, start, &mut sent);
                let result = match tokio::time::timeout_at(due_at + timeout, exchange).await {
                    Ok(result) => result,
                    Err(_) => Err(Failure::TimedOut),
                };
                let outcome = Outcome {
                    due: due_at - start,
                    sent,
                    done: start.elapsed(),
                    class: due.class,
                    retry,
                    result,
                };
                if retry == 0 {
                    outcomes.borrow_mut()[number] = Some(outcome);
                } else {
                    retried.borrow_mut().push(outcome);
                }
                if !outcome.retryable() {
                    break;
                }
                due_at = Instant::now();
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let outcomes = outcomes.take();
    outcomes
        .into_iter()
        .map(|o| o.expect("every task records its outcome"))
        .chain(retried.take())
        .collect()
}

/// One request: on a kept connection or a new one; its answer's status.
async fn one(
    addr: SocketAddr,
    request: &[u8],
    keep_alive: bool,
    idle: &Idle,
    start: Instant,
    sent: &mut Option<Duration>,
) -> Result<u16, Failure> {
    let kept = if keep_alive {
        idle.borrow_mut().pop()
    } else {
        None
    };
    let mut stream = match kept {
        Some(stream) => stream,
        None => TcpStream::connect(addr).await.map_err(failure)?,
    };
    let _ = stream.set_nodelay(true);
    *sent = Some(start.elapsed());
    stream.write_all(request).await.map_err(failure)?;
    let (status, reusable) = read_answer(&mut stream).await?;
    if keep_alive && reusable {
        idle.borrow_mut().push(stream);
    }
    Ok(status)
}

/// Reads one answer: its status, and whether the connection may carry another.
async fn read_answer(stream: &mut TcpStream) -> Result<(u16, bool), Failure> {
    let mut buffer = Vec::with_capacity(512);
    let mut chunk = [0u8; 4096];
    let (status, length, close, head) = loop {
        let read = stream.read(&mut chunk).await.map_err(failure)?;
        if read == 0 {
            return Err(Failure::Closed);
        }
        buffer.extend_from_slice(&chunk[..read]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut answer = httparse::Response::new(&mut headers);
        match answer.parse(&buffer) {
            Ok(httparse::Status::Complete(head)) => {
                let field = |name: &str| {
                    let found = answer
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name));
                    found.map(|h| String::from_utf8_lossy(h.value).into_owned())
                };
                let length: Option<usize> =
                    field("content-length").and_then(|v| v.trim().parse().ok());
                let close =
                    field("connection").is_some_and(|v| shared::says(v.as_bytes(), "close"));
                break (answer.code.unwrap_or(0), length, close, head);
            }
            Ok(httparse::Status::Partial) if buffer.len() < MAX_HEAD => {}
            _ => return Err(Failure::Malformed),
        }
    };
    // These statuses have no body, whatever the headers say.
    let bodiless = matches!(status, 100..=199 | 204 | 304);
    match length.or(bodiless.then_some(0)) {
        Some(length) => {
            let mut left = (head + length).saturating_sub(buffer.len());
            while left > 0 {
                let read = stream.read(&mut chunk).await.map_err(failure)?;
                if read == 0 {
                    return Err(Failure::Closed);
                }
                left = left.saturating_sub(read);
            }
            Ok((status, !close))
        }
        // No length: the body runs to the close.
        None => {
            while stream.read(&mut chunk).await.map_err(failure)? > 0 {}
            Ok((status, false))
        }
    }
}

fn request_bytes(path: &str, host: &str, keep_alive: bool) -> Vec<u8> {
    let connection = if keep_alive {
        ""
    } else {
        "Connection: close\r\n"
    };
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{connection}\r\n").into_bytes()
}

fn failure(error: io::Error) -> Failure {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => Failure::Refused,
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => Failure::Reset,
        io::ErrorKind::TimedOut => Failure::TimedOut,
        io::ErrorKind::UnexpectedEof => Failure::Closed,
        _ => Failure::Reset,
    }
}
