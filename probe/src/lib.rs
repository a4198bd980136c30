//! A tiny HTTP/1.1 client for measuring servers: one request per connection, timed.
//!
//! Each exchange opens its own connection (like a separate browser tab, so nothing queues on the
//! client side), sends the request with `Connection: close` and reads until the server closes.
//! The latency is taken on the monotonic clock from the first byte sent to the last byte
//! received. Every step is bounded by a deadline the caller gives.

pub mod crowd;
pub mod process;
pub mod seed;

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// A server to talk to, from a URL such as `http://127.0.0.1:8000`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The URL as given, without a trailing slash.
    pub url: String,
    pub addr: SocketAddr,
}

impl Target {
    /// Parses an `http://HOST:PORT` URL (a path, if any, is ignored) and resolves the host.
    pub fn parse(url: &str) -> Result<Target, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url:?} is not an http:// URL"))?;
        let authority = rest.split('/').next().unwrap_or_default();
        let with_port = if authority
            .rsplit_once(':')
            .is_some_and(|(_, port)| !port.contains(']'))
        {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let addr = with_port
            .to_socket_addrs()
            .ok()
            .and_then(|mut found| found.next())
            .ok_or_else(|| format!("cannot resolve {authority:?} in {url:?}"))?;
        Ok(Target {
            url: format!("http://{authority}"),
            addr,
        })
    }

    /// The server a start-up line announces: the contract has each server print one line with
    /// `listening on http://HOST:PORT`. `None` if `line` is not that line.
    pub fn announced_by(line: &str) -> Option<Target> {
        let url = line.split("listening on ").nth(1)?;
        Target::parse(url.trim()).ok()
    }

    /// A target for a known socket address.
    pub fn at(addr: SocketAddr) -> Target {
        Target {
            url: format!("http://{addr}"),
            addr,
        }
    }

    /// `GET target` on a connection of its own, answered by `deadline`.
    pub fn get(&self, target: &str, deadline: Instant) -> Result<Exchange, Failure> {
        self.request("GET", target, deadline)
    }

    /// `method target` on a connection of its own, answered by `deadline`.
    pub fn request(
        &self,
        method: &str,
        target: &str,
        deadline: Instant,
    ) -> Result<Exchange, Failure> {
        let head = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        );
        self.send_raw(head.as_bytes(), deadline)
    }

    /// Sends `raw` bytes on a new connection and reads the answer until the server closes it.
    pub fn send_raw(&self, raw: &[u8], deadline: Instant) -> Result<Exchange, Failure> {
        let left = || {
            deadline
                .checked_duration_since(Instant::now())
                .filter(|left| !left.is_zero())
                .ok_or(Failure::TimedOut)
        };
        let mut stream =
            TcpStream::connect_timeout(&self.addr, left()?).map_err(Failure::Connect)?;
        stream.set_nodelay(true).map_err(Failure::Io)?;
        stream
            .set_write_timeout(Some(left()?))
            .map_err(Failure::Io)?;
        let sent_at = Instant::now();
        stream.write_all(raw).map_err(Failure::from_io)?;
        let mut bytes = Vec::new();
        let mut chunk = [0; 4096];
        loop {
            stream
                .set_read_timeout(Some(left()?))
                .map_err(Failure::Io)?;
            match stream.read(&mut chunk).map_err(Failure::from_io)? {
                0 => break,
                read => bytes.extend_from_slice(&chunk[..read]),
            }
        }
        parse(&bytes, sent_at, Instant::now()).ok_or(Failure::Garbled(bytes))
    }
}

/// One request and its answer, with when each happened.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// Just before the first byte of the request was sent.
    pub sent_at: Instant,
    /// Just after the last byte of the answer was received.
    pub answered_at: Instant,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Exchange {
    /// From the first byte sent to the last byte received.
    pub fn latency(&self) -> Duration {
        self.answered_at - self.sent_at
    }

    /// The value of header `name`, matched without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The process that answered, from `X-Pid`.
    pub fn pid(&self) -> Option<u32> {
        self.header("X-Pid")?.parse().ok()
    }

    /// The native id of the thread that ran the handler, from `X-Tid`.
    pub fn tid(&self) -> Option<u64> {
        self.header("X-Tid")?.parse().ok()
    }

    /// The thread that did offloaded blocking work, from `X-Work-Tid`.
    pub fn work_tid(&self) -> Option<u64> {
        self.header("X-Work-Tid")?.parse().ok()
    }
}

/// The exchange whose answer is `bytes` (the whole of what the server sent before it closed);
/// `None` if they are not an HTTP/1.x response.
fn parse(bytes: &[u8], sent_at: Instant, answered_at: Instant) -> Option<Exchange> {
    let mut fields = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut fields);
    let httparse::Status::Complete(head_length) = response.parse(bytes).ok()? else {
        return None;
    };
    let headers = response.headers.iter().map(|field| {
        let value = String::from_utf8_lossy(field.value).trim().to_owned();
        (field.name.to_owned(), value)
    });
    Some(Exchange {
        sent_at,
        answered_at,
        status: response.code?,
        headers: headers.collect(),
        body: String::from_utf8_lossy(&bytes[head_length..]).into_owned(),
    })
}

/// Why an exchange got no answer.
#[derive(Debug)]
pub enum Failure {
    /// The connection could not be made (refused, say).
    Connect(io::Error),
    /// The deadline passed before the answer was complete.
    TimedOut,
    /// The connection broke midway (reset, say).
    Io(io::Error),
    /// The server closed the connection after sending something that is not an HTTP response.
    Garbled(Vec<u8>),
}

impl Failure {
    fn from_io(error: io::Error) -> Failure {
        match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Failure::TimedOut,
            _ => Failure::Io(error),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Connect(error) => write!(f, "could not connect: {error}"),
            Failure::TimedOut => f.write_str("no answer in time"),
            Failure::Io(error) => write!(f, "connection broke: {error}"),
            Failure::Garbled(bytes) if bytes.is_empty() => f.write_str("closed without answering"),
            Failure::Garbled(bytes) => write!(f, "not an HTTP answer ({} bytes)", bytes.len()),
        }
    }
}

impl std::error::Error for Failure {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    #[test]
    fn parses_a_response() {
        let raw = b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nX-Tid: 12\r\n\r\nno\n";
        let now = Instant::now();
        let exchange = parse(raw, now, now).unwrap();
        assert_eq!((exchange.status, exchange.body.as_str()), (405, "no\n"));
        assert_eq!(exchange.header("allow"), Some("GET, HEAD"));
        assert_eq!(exchange.tid(), Some(12));
        assert_eq!(
            parse(b"HTTP/1.0 200 OK\r\n\r\n", now, now).unwrap().status,
            200
        );
    }

    #[test]
    fn refuses_what_is_not_a_response() {
        for raw in [
            &b""[..],
            b"hello",
            b"HTTP/1.1 2x0 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nbad\r\n\r\n",
        ] {
            let now = Instant::now();
            assert!(parse(raw, now, now).is_none(), "{raw:?}");
        }
    }

    #[test]
    fn reads_the_listening_line() {
        let line = "async-server listening on http://127.0.0.1:8001\n";
        let target = Target::announced_by(line).unwrap();
        assert_eq!(target.url, "http://127.0.0.1:8001");
        assert_eq!(Target::announced_by("START PID 1 TID 1 GET /"), None);
    }

    #[test]
    fn parses_urls() {
        let target = Target::parse("http://127.0.0.1:8000/").unwrap();
        assert_eq!(
            (target.url.as_str(), target.addr.port()),
            ("http://127.0.0.1:8000", 8000)
        );
        assert_eq!(
            Target::parse("http://[::1]:9").unwrap().addr,
            "[::1]:9".parse().unwrap()
        );
        assert_eq!(Target::parse("http://127.0.0.1").unwrap().addr.port(), 80);
        assert!(Target::parse("https://127.0.0.1:1").is_err());
        assert!(Target::parse("127.0.0.1:1").is_err());
    }

    #[test]
    fn times_an_exchange_and_gives_up_at_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = Target::at(listener.local_addr().unwrap());
        let server = thread::spawn(move || {
            let (mut quick, _) = listener.accept().unwrap();
            let mut head = [0; 1024];
            let _ = quick.read(&mut head).unwrap();
            quick
                .write_all(b"HTTP/1.1 200 OK\r\nX-Pid: 7\r\n\r\nhi")
                .unwrap();
            drop(quick);
            let (silent, _) = listener.accept().unwrap();
            thread::sleep(Duration::from_millis(500));
            drop(silent);
        });
        let far = Instant::now() + Duration::from_secs(5);
        let exchange = target.get("/", far).unwrap();
        assert_eq!((exchange.status, exchange.body.as_str()), (200, "hi"));
        assert_eq!((exchange.pid(), exchange.tid()), (Some(7), None));
        assert_eq!(exchange.header("x-pid"), Some("7"));
        assert!(exchange.latency() < Duration::from_secs(1));

        let started = Instant::now();
        let failure = target
            .get("/", started + Duration::from_millis(100))
            .unwrap_err();
        assert!(matches!(failure, Failure::TimedOut), "{failure:?}");
        assert!(started.elapsed() < Duration::from_millis(400));
        server.join().unwrap();
    }

    #[test]
    fn a_refused_connection_is_reported() {
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let failure = Target::at(addr).get("/", Instant::now() + Duration::from_secs(1));
        assert!(matches!(failure, Err(Failure::Connect(_))), "{failure:?}");
    }
}
