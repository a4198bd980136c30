//! Test support: runs a real server binary on port 0 and talks to it over real sockets.
//!
//! [`Server::start`] launches the binary, reads its port from the `listening on` line and keeps
//! every line it prints (with the moment it arrived) for the test to wait on. [`Server::get`] and
//! friends send one request per connection with [`probe`], and time it. Every
//! wait here is bounded, and a server is killed when its [`Server`] is dropped.
//!
//! [`contract`] holds the checks both servers must pass; [`contract_tests!`] turns them into
//! `#[test]`s for one binary. [`wire`] reads answers off a raw connection, for the checks that
//! speak HTTP by hand.

pub mod contract;
pub mod corpus;
pub mod database;
pub mod hostile;
mod server;
pub mod upstream;
pub mod wire;

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub use server::{Line, Server};

/// The longest any single step of a test may take before it is declared hung.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// A `#[test]` per check of one of this crate's modules for one server binary: each calls
/// `testkit::<module>::<check>(binary)`. What `contract_tests!`, `database_tests!` and
/// `upstream_tests!` expand to, each with its module's list.
#[doc(hidden)]
#[macro_export]
macro_rules! each_check {
    ($module:ident, $binary:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                $crate::$module::$check($binary)
            }
        )*
    };
}

/// Runs `work` on a thread of its own while reading `sample` every 5 ms, until it ends: what it
/// returned, and the most `sample` read meanwhile (threads, sockets: what `work` makes a server
/// hold).
pub fn most_while<T: Send, M: Ord + Default>(
    work: impl FnOnce() -> T + Send,
    sample: impl Fn() -> M,
) -> (T, M) {
    thread::scope(|scope| {
        let pending = scope.spawn(work);
        let mut most = M::default();
        while !pending.is_finished() {
            most = most.max(sample());
            thread::sleep(Duration::from_millis(5));
        }
        (pending.join().expect("the work panicked"), most)
    })
}

pub(crate) const OUT: &str = "stdout is piped";
pub(crate) const ERR: &str = "stderr is piped";

/// Runs `binary args` to completion, for flags that make it exit at once: killed, and the test
/// failed, after [`PATIENCE`].
pub fn run(binary: &str, args: &[&str]) -> Output {
    run_within(binary, args, PATIENCE)
}

/// Runs `binary args` to completion, reading what it prints as it goes (so that a full pipe
/// never stalls it); killed, and the test failed, after `patience`.
pub fn run_within(binary: &str, args: &[&str], patience: Duration) -> Output {
    let mut child = Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {binary}: {error}"));
    let (mut out, mut err) = (
        child.stdout.take().expect(OUT),
        child.stderr.take().expect(ERR),
    );
    let stdout = thread::spawn(move || read_all(&mut out));
    let stderr = thread::spawn(move || read_all(&mut err));
    let deadline = Instant::now() + patience;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{binary} {args:?} did not exit within {patience:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: stdout.join().expect("the stdout reader"),
        stderr: stderr.join().expect("the stderr reader"),
    }
}

fn read_all(pipe: &mut impl Read) -> Vec<u8> {
    let mut bytes = Vec::new();
    let _ = pipe.read_to_end(&mut bytes);
    bytes
}

/// One request and its answer, as the client saw them.
pub type Reply = probe::Exchange;

/// Sends every request in `targets` at once, each on its own connection and thread, and
/// returns the replies in the same order.
pub fn all_at_once(server: &Server, targets: &[&str]) -> Vec<Reply> {
    thread::scope(|scope| {
        let pending: Vec<_> = targets
            .iter()
            .map(|target| scope.spawn(move || server.get(target)))
            .collect();
        pending
            .into_iter()
            .map(|reply| reply.join().unwrap())
            .collect()
    })
}

/// A binary of this workspace (`sync-server`, say), for a test in another package: found beside
/// the running test's own build, and built there now if `cargo test` was asked for that package
/// alone.
pub fn workspace_binary(name: &str) -> std::path::PathBuf {
    let test = std::env::current_exe().expect("the test's own path");
    let profile = test
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let binary = profile.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !binary.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut build = Command::new(cargo);
        build.args(["build", "--bin", name]);
        if profile.ends_with("release") {
            build.arg("--release");
        }
        assert!(build.status().unwrap().success(), "cannot build {name}");
    }
    binary
}

/// `light` normally, `heavy` when the environment has `STRESS=1` (`scripts/stress`).
pub fn stress_size(light: usize, heavy: usize) -> usize {
    if std::env::var_os("STRESS").is_some_and(|value| value == "1") {
        heavy
    } else {
        light
    }
}

/// Whether the server has closed `stream` (or reset it) by `deadline`; an answer before the
/// close is fine.
pub fn closed_by(stream: &mut std::net::TcpStream, deadline: Instant) -> bool {
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    stream.set_read_timeout(Some(left)).unwrap();
    let mut byte = [0; 1];
    loop {
        match stream.read(&mut byte) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// The `(pid, tid)` of a `START PID <pid> TID <tid> ...` line.
pub fn start_ids(line: &str) -> Option<(u32, u64)> {
    let mut words = line.strip_prefix("START PID ")?.split(' ');
    let pid = words.next()?.parse().ok()?;
    let tid = words.nth(1)?.parse().ok()?;
    Some((pid, tid))
}

/// Asks `server` for `target` again and again (each try bounded at 500 ms) until it answers
/// `200`, for at most `within`; the answer. For a server recovering from running out of
/// something.
pub fn retry_until_served(server: &Server, target: &str, within: Duration) -> probe::Exchange {
    let started = Instant::now();
    loop {
        let deadline = Instant::now() + Duration::from_millis(500);
        if let Ok(reply) = server.target().get(target, deadline) {
            if reply.status == 200 {
                return reply;
            }
        }
        assert!(
            started.elapsed() < within,
            "{target}: not served again within {within:?}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// How many established connections to `port` on this machine have no byte left unread by the
/// server (the kernel's receive queue, `rx_queue` in `/proc/net/tcp`, is empty): a request sent
/// on such a connection has been taken in. For a test to wait on instead of a fixed pause.
pub fn connections_read_to_the_end(port: u16) -> usize {
    let tables = ["/proc/net/tcp", "/proc/net/tcp6"].map(std::fs::read_to_string);
    let lines = tables
        .iter()
        .flatten()
        .flat_map(|table| table.lines().skip(1));
    lines
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields.get(1).and_then(|local| local.rsplit(':').next());
            let established = fields.get(3) == Some(&"01");
            let unread = fields.get(4).and_then(|queues| queues.split(':').nth(1));
            local_port.and_then(|hex| u16::from_str_radix(hex, 16).ok()) == Some(port)
                && established
                && unread.is_some_and(|hex| u64::from_str_radix(hex, 16) == Ok(0))
        })
        .count()
}

/// Waits (up to [`PATIENCE`]) until `count` established connections to `server` have been read
/// to the end ([`connections_read_to_the_end`]).
pub fn wait_until_read(server: &Server, count: usize) {
    let started = Instant::now();
    while connections_read_to_the_end(server.addr().port()) < count {
        assert!(
            started.elapsed() < PATIENCE,
            "{count} connections never read"
        );
        thread::sleep(Duration::from_millis(5));
    }
}
