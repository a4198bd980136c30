//! The upstream, for `/fetch`: another HTTP service, called with hyper-util's client.
//!
//! A call is a future: while it waits for the upstream's answer, its task is set aside, as for
//! a timer. So one task can wait on several calls at once ([`Upstream::fetch`] joins them), and
//! the thread runs other requests meanwhile. That is the one thing here a thread per request
//! cannot do without a thread per call.
//!
//! hyper-util's client pools connections but bounds none, so two [`Semaphore`]s, shared by every
//! worker, keep `--upstream-connections`: one for the calls in flight (a call waits for its turn
//! at most `--max-sleep`), one held by each open socket ([`Counted`]). The second is needed
//! because the client puts a connection back in its pool on a task of its own, a moment after
//! the call that used it has read its answer: a call in that moment opens a new connection, and
//! without the socket's own permit there would briefly be one too many.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use shared::{cause_of, Calls, FetchFailure};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The upstream's address and bounds, shared by every worker; each worker has its own client.
pub struct Upstream {
    base: Option<String>,
    /// A permit per call in flight.
    calls: Arc<Semaphore>,
    /// A permit per open socket.
    sockets: Arc<Semaphore>,
    connections: usize,
    /// How much longer than its `seconds` a call may take: `--header-timeout`.
    slack: Duration,
    /// How long a call may wait for its turn: `--max-sleep`.
    turn_wait: Duration,
}

type Pooled = Client<Bounded, Empty<Bytes>>;

thread_local! {
    /// Each worker's client: its connections' tasks run on that worker's runtime, its one thread.
    static CLIENT: RefCell<Option<Pooled>> = const { RefCell::new(None) };
}

impl Upstream {
    /// A client for `base` (`http://HOST:PORT`; with none, `/fetch` is answered `503` before it
    /// reaches here) with at most `connections` open at once; a call may take its `seconds`
    /// plus `slack`, after waiting at most `turn_wait` for its turn.
    pub fn new(
        base: Option<&str>,
        connections: u32,
        slack: Duration,
        turn_wait: Duration,
    ) -> Upstream {
        let connections = connections as usize;
        Upstream {
            base: base.map(str::to_owned),
            calls: Arc::new(Semaphore::new(connections)),
            sockets: Arc::new(Semaphore::new(connections)),
            connections,
            slack,
            turn_wait,
        }
    }

    /// Makes every call at once and awaits them together: how long they took, or the first
    /// failure among them (the others are dropped, their connections closed).
    pub async fn fetch(&self, calls: Calls) -> Result<Duration, FetchFailure> {
        let started = Instant::now();
        let Some(base) = &self.base else {
            return Err(FetchFailure::Unreachable(
                "no upstream configured".to_owned(),
            ));
        };
        let uri: Uri = calls
            .url(base)
            .parse()
            .map_err(|error| FetchFailure::Unreachable(format!("a bad upstream URL: {error}")))?;
        let each = (0..calls.count).map(|_| self.call(uri.clone(), calls.seconds));
        futures_util::future::try_join_all(each).await?;
        Ok(started.elapsed())
    }

    /// One call of `uri`, the upstream's `/sleep?seconds=S`, its answer read whole.
    async fn call(&self, uri: Uri, seconds: Duration) -> Result<(), FetchFailure> {
        let turn = Arc::clone(&self.calls).acquire_owned();
        let _turn = tokio::time::timeout(self.turn_wait, turn)
            .await
            .map_err(|_| FetchFailure::NoConnection(self.turn_wait))?
            .expect("the semaphore is never closed");
        let client = self.client();
        let bound = seconds + self.slack;
        let answered = async {
            let answer = client.get(uri).await.map_err(|error| {
                let cause = cause_of(&error);
                match error.is_connect() {
                    true => FetchFailure::Unreachable(cause),
                    false => FetchFailure::Broken(cause),
                }
            })?;
            let status = answer.status().as_u16();
            // Read to the end: then the connection can go back to the pool.
            Limited::new(answer.into_body(), Calls::MAX_ANSWER)
                .collect()
                .await
                .map_err(|error| FetchFailure::Broken(error.to_string()))?;
            FetchFailure::unless_success(status)
        };
        tokio::time::timeout(bound, answered)
            .await
            .map_err(|_| FetchFailure::TooSlow(bound))?
    }

    /// This worker's client, made at its first call.
    fn client(&self) -> Pooled {
        CLIENT.with_borrow_mut(|client| {
            client
                .get_or_insert_with(|| {
                    let connector = Bounded {
                        http: HttpConnector::new(),
                        sockets: Arc::clone(&self.sockets),
                        wait: self.turn_wait,
                    };
                    Client::builder(TokioExecutor::new())
                        .pool_max_idle_per_host(self.connections)
                        .build(connector)
                })
                .clone()
        })
    }

    /// Drops this worker's client, closing its idle connections: at shutdown, once its requests
    /// are answered.
    pub fn close_this_workers(&self) {
        CLIENT.with_borrow_mut(|client| drop(client.take()));
    }
}

/// hyper-util's own connector, taking a socket permit before it connects: the permit goes with
/// the socket ([`Counted`]) and comes back when the socket is closed.
#[derive(Clone)]
struct Bounded {
    http: HttpConnector,
    sockets: Arc<Semaphore>,
    wait: Duration,
}

impl tower_service::Service<Uri> for Bounded {
    type Response = Counted;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = Pin<Box<dyn Future<Output = Result<Counted, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let mut http = self.http.clone();
        let permit = tokio::time::timeout(self.wait, Arc::clone(&self.sockets).acquire_owned());
        Box::pin(async move {
            let permit = permit
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no socket came free"))??;
            let io = http.call(uri).await?;
            Ok(Counted {
                io,
                _permit: permit,
            })
        })
    }
}

/// A socket to the upstream, holding one of `--upstream-connections` permits while it is open.
struct Counted {
    io: TokioIo<TcpStream>,
    _permit: OwnedSemaphorePermit,
}

impl Connection for Counted {
    fn connected(&self) -> Connected {
        self.io.connected()
    }
}

impl hyper::rt::Read for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
