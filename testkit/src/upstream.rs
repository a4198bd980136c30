//! The checks of `/fetch` that hold for both servers, each against a real upstream: an
//! async-server of its own, or, for the failures, a [`Misbehaving`] one that answers badly on
//! purpose.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crate::{all_at_once, workspace_binary, Reply, Server};

/// The checks of this module as `#[test]`s for one server binary (like `contract_tests!`).
#[macro_export]
macro_rules! upstream_tests {
    ($binary:expr) => {
        $crate::each_check!(upstream, $binary;
            fetch_calls_the_upstream_and_says_how_long,
            without_an_upstream_fetch_says_how_to_give_one,
            a_bad_count_or_via_is_400,
            each_upstream_failure_is_answered_within_its_bound,
            an_upstream_down_is_502_at_once_and_recovers,
            the_upstream_connections_bound_holds,
        );
    };
}

/// An upstream for one check: an async-server, which is never the bottleneck.
pub fn upstream() -> Server {
    let binary = workspace_binary("async-server");
    Server::start(
        binary.to_str().expect("a UTF-8 path"),
        &["--warn-blocked", "0"],
    )
}

/// An upstream, and a server started with `--upstream` pointing at it.
pub fn server_with_upstream(binary: &str, args: &[&str]) -> (Server, Server) {
    let upstream = upstream();
    let base = format!("http://{}", upstream.addr());
    let server = Server::start(binary, &[&["--upstream", base.as_str()][..], args].concat());
    (upstream, server)
}

/// How long an answer says its calls took together (`X-Fetch-Ms`).
pub fn fetch_took(reply: &Reply) -> Duration {
    let ms = reply.header("X-Fetch-Ms").and_then(|ms| ms.parse().ok());
    Duration::from_millis(ms.unwrap_or_else(|| panic!("no X-Fetch-Ms: {reply:?}")))
}

/// `/fetch?seconds=S&count=K` calls the upstream's `/sleep?seconds=S` `K` times and answers
/// `fetch`, saying how long the calls took; `HEAD` too.
pub fn fetch_calls_the_upstream_and_says_how_long(binary: &str) {
    let (upstream, server) = server_with_upstream(binary, &[]);
    let reply = server.get("/fetch?seconds=0.2");
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "fetch"),
        "{reply:?}"
    );
    assert!(
        fetch_took(&reply) >= Duration::from_millis(200),
        "{reply:?}"
    );
    assert!(reply.latency() >= fetch_took(&reply), "{reply:?}");
    upstream
        .wait_for_stdout(|line| line.starts_with("START") && line.ends_with("/sleep?seconds=0.2"));
    let head = server.request("HEAD", "/fetch?seconds=0&count=32");
    assert_eq!((head.status, head.body.as_str()), (200, ""), "{head:?}");
    let calls = upstream.wait_for_stdout_lines(|line| line.ends_with("/sleep?seconds=0"), 32);
    assert_eq!(calls.len(), 32);
}

/// Without `--upstream`, `/fetch` answers `503` at once with `Retry-After`, saying how to give
/// one, and everything else works as before.
pub fn without_an_upstream_fetch_says_how_to_give_one(binary: &str) {
    let server = Server::start(binary, &[]);
    let reply = server.get("/fetch?seconds=1");
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("Retry-After"), Some("1"));
    assert!(reply.body.contains("--upstream"), "{:?}", reply.body);
    assert!(reply.latency() < Duration::from_millis(500));
    assert_eq!(server.get("/nosleep").status, 200);
}

/// A `count` that is not 1 to 32, or a `via` that is not `threads`, is refused before any call.
pub fn a_bad_count_or_via_is_400(binary: &str) {
    let (upstream, server) = server_with_upstream(binary, &[]);
    for (bad, says) in [
        ("/fetch?count=0", "count="),
        ("/fetch?count=33", "from 1 to 32"),
        ("/fetch?count=1.5", "count="),
        ("/fetch?via=processes", "via=threads"),
        ("/fetch?seconds=-1", "negative"),
    ] {
        let reply = server.get(bad);
        assert_eq!(reply.status, 400, "{bad}: {reply:?}");
        assert!(reply.body.contains(says), "{bad}: {:?}", reply.body);
    }
    assert!(
        !upstream
            .stdout_lines()
            .iter()
            .any(|line| line.starts_with("START")),
        "a refused /fetch called the upstream"
    );
}

/// Every way an upstream can fail, each answered as the interface says within its bound, with
/// `/nosleep` served meanwhile, and no call's thread or socket to the upstream left behind after:
/// silent past `S` plus `--header-timeout` is `504` at that bound; not HTTP, cut off, or an
/// error status is `502` at once, naming the cause.
pub fn each_upstream_failure_is_answered_within_its_bound(binary: &str) {
    for (behaviour, status, says) in [
        (Misbehaviour::Silent, 504, "did not answer within 1.2 s"),
        (Misbehaviour::NotHttp, 502, "no complete HTTP answer"),
        (Misbehaviour::CutShort, 502, "no complete HTTP answer"),
        (Misbehaviour::Status(500), 502, "upstream answered 500"),
        (Misbehaviour::Status(404), 502, "upstream answered 404"),
    ] {
        let upstream = Misbehaving::start(behaviour);
        let base = format!("http://{}", upstream.addr);
        let args = with_threads(binary, 2, &["--upstream", &base, "--header-timeout", "1"]);
        let server = Server::start(binary, &args.iter().map(String::as_str).collect::<Vec<_>>());
        let (reply, nosleep) = thread::scope(|scope| {
            // Two calls, on threads of their own on sync-server: neither may be left behind.
            let pending = scope.spawn(|| server.get("/fetch?seconds=0.2&count=2&via=threads"));
            server.wait_for_stdout(|line| line.starts_with("START") && line.contains("/fetch"));
            (pending.join().unwrap(), server.get("/nosleep"))
        });
        assert_eq!(reply.status, status, "{behaviour:?}: {reply:?}");
        assert!(reply.body.contains(says), "{behaviour:?}: {:?}", reply.body);
        assert_eq!(reply.body.matches('\n').count(), 1, "{:?}", reply.body);
        let bound = match status {
            // The call's 0.2 s plus --header-timeout 1: not before, and not long after.
            504 => {
                assert!(reply.latency() >= Duration::from_millis(1200), "{reply:?}");
                Duration::from_millis(2500)
            }
            _ => Duration::from_millis(500),
        };
        assert!(reply.latency() < bound, "{behaviour:?}: {reply:?}");
        assert_eq!(nosleep.status, 200);
        assert!(
            nosleep.latency() < Duration::from_millis(500),
            "{behaviour:?}: {nosleep:?}"
        );
        back_to_idle(&server, upstream.addr.port(), behaviour);
    }
}

/// The upstream down: `502` at once, naming the refusal, and `/nosleep` served; once it is up
/// again on the same address, the next `/fetch` succeeds, with no restart.
pub fn an_upstream_down_is_502_at_once_and_recovers(binary: &str) {
    let (upstream, server) = server_with_upstream(binary, &[]);
    assert_eq!(server.get("/fetch?seconds=0").status, 200);
    let addr = upstream.addr();
    drop(upstream);
    let down = server.get("/fetch?seconds=0");
    assert_eq!(down.status, 502, "{down:?}");
    assert!(down.body.contains("unreachable"), "{:?}", down.body);
    assert!(down.latency() < Duration::from_millis(500), "{down:?}");
    assert_eq!(server.get("/nosleep").status, 200);
    let mut command = std::process::Command::new(workspace_binary("async-server"));
    command.args(["--port", &addr.port().to_string(), "--warn-blocked", "0"]);
    let _back = Server::launch(command, "async-server");
    let back = server.get("/fetch?seconds=0");
    assert_eq!(back.status, 200, "after the upstream is back: {back:?}");
}

/// `--upstream-connections 3`: twelve `/fetch` at once open at most three sockets to the
/// upstream (counted in `/proc` while they wait), so they take four rounds.
pub fn the_upstream_connections_bound_holds(binary: &str) {
    let args = with_threads(binary, 12, &["--upstream-connections", "3"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (upstream, server) = server_with_upstream(binary, &args);
    let port = upstream.addr().port();
    let targets = vec!["/fetch?seconds=0.3"; 12];
    let started = Instant::now();
    let (replies, most) = crate::most_while(
        || all_at_once(&server, &targets),
        || probe::process::sockets_to(server.pid(), port),
    );
    let wall = started.elapsed();
    assert!(
        replies.iter().all(|reply| reply.status == 200),
        "{replies:?}"
    );
    assert!(
        (1..=3).contains(&most),
        "{most} sockets to the upstream at once"
    );
    let round = Duration::from_millis(300);
    assert!(wall >= round * 4 - Duration::from_millis(30), "{wall:?}");
    assert!(wall < round * 8, "{wall:?}");
}

/// `args`, and for sync-server `--threads N` besides: a handler thread for each request a check
/// has waiting at once.
fn with_threads(binary: &str, threads: usize, args: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = args.iter().map(|&arg| arg.to_owned()).collect();
    let name = std::path::Path::new(binary).file_name();
    if name.is_some_and(|name| name == "sync-server") {
        args.extend(["--threads".to_owned(), threads.to_string()]);
    }
    args
}

/// What a failed call could leave behind: threads started for calls (sync-server names them
/// `fetch`), and sockets to the upstream.
fn leftovers(server: &Server, upstream_port: u16) -> (usize, usize) {
    let pid = server.pid();
    let threads = probe::process::thread_names(pid);
    let calls = threads.iter().filter(|name| *name == "fetch").count();
    (calls, probe::process::sockets_to(pid, upstream_port))
}

/// Waits (a bounded time) for the server to hold no call's thread and no socket to the upstream.
fn back_to_idle(server: &Server, upstream_port: u16, after: Misbehaviour) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let now = leftovers(server, upstream_port);
        if now == (0, 0) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "after {after:?}: call threads and upstream sockets {now:?}; threads {:?}",
            probe::process::thread_names(server.pid())
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// How a [`Misbehaving`] upstream answers every request.
#[derive(Clone, Copy, Debug)]
pub enum Misbehaviour {
    /// Reads the request and never answers (until the caller hangs up).
    Silent,
    /// Answers a line that is not HTTP.
    NotHttp,
    /// Starts a `200` whose body it cuts off, closing the connection.
    CutShort,
    /// Answers this error status, whole.
    Status(u16),
}

/// An upstream that answers badly on purpose, on a free loopback port, for as long as the test
/// process runs.
pub struct Misbehaving {
    pub addr: std::net::SocketAddr,
}

impl Misbehaving {
    pub fn start(behaviour: Misbehaviour) -> Misbehaving {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                thread::spawn(move || misbehave(stream, behaviour));
            }
        });
        Misbehaving { addr }
    }
}

fn misbehave(mut stream: TcpStream, behaviour: Misbehaviour) {
    let _ = stream.set_read_timeout(Some(crate::PATIENCE));
    let mut head = [0; 4096];
    let _ = stream.read(&mut head);
    let reply: &[u8] = match behaviour {
        Misbehaviour::Silent => {
            // Until the caller gives up and hangs up (or the patience runs out).
            let _ = stream.read(&mut head);
            return;
        }
        Misbehaviour::NotHttp => b"this is not HTTP\r\n\r\n",
        Misbehaviour::CutShort => b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsle",
        Misbehaviour::Status(status) => {
            let answer = format!(
                "HTTP/1.1 {status} Oops\r\nContent-Length: 5\r\nConnection: close\r\n\r\noops!"
            );
            let _ = stream.write_all(answer.as_bytes());
            return;
        }
    };
    let _ = stream.write_all(reply);
}
