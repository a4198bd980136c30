//! The command line both servers share (docs/interface.md, Command line), and the one way every
//! binary of the project ends with an error.
//!
//! Each server defines its own `clap` parser (for its default port and its own flags) and
//! flattens [`ServerFlags`] into it. [`parse`] runs that parser the interface's way: a bad flag
//! prints one line and gives `main` the status 2 to exit with, instead of clap's several lines.
//! Failures after parsing go up to `main` as an [`anyhow::Error`] with the context of what was
//! being done, and [`finish`] prints them on one line and gives the status 1.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{Args, Parser};

use crate::{Backends, Limits};

/// The flags every server takes besides its port.
#[derive(Args, Clone, Debug)]
pub struct ServerFlags {
    /// Address to bind
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1", value_parser = host)]
    pub host: IpAddr,
    /// How long /sleep waits when the request names no duration
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = seconds, allow_hyphen_values = true)]
    pub sleep: Duration,
    /// The longest wait a request may ask for (also the grace period at shutdown)
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = seconds, allow_hyphen_values = true)]
    pub max_sleep: Duration,
    /// How long a client may take to send a request head, and to take in an answer, before its
    /// connection is closed
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = timeout)]
    pub header_timeout: Duration,
    /// A PostgreSQL connection string (postgres://USER@HOST:PORT/DB) that /query uses; without
    /// it /query answers 503
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// The longest a request waits for a database connection (a free one in the pool, or a new
    /// one to open) before it is answered 503
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = timeout)]
    pub db_wait: Duration,
    /// The base URL (http://HOST:PORT) of an HTTP service whose /sleep?seconds=S /fetch calls;
    /// without it /fetch answers 503
    #[arg(long, value_name = "URL", value_parser = upstream)]
    pub upstream: Option<String>,
    /// The most connections to the upstream open at once; past it, calls wait for one (at most
    /// --max-sleep)
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub upstream_connections: u32,
    /// The most connections served at once; past it, a new one is answered 503 and closed
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// A request that waited longer than this in the server's queue (sync: for a handler
    /// thread; async: for a thread of the blocking pool) is answered 503 without its work; 0
    /// turns it off
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    pub queue_deadline: u64,
}

impl ServerFlags {
    pub fn addr(&self, port: u16) -> SocketAddr {
        SocketAddr::new(self.host, port)
    }

    /// What the server has to talk to besides its clients.
    pub fn backends(&self) -> Backends {
        Backends {
            database: self.database.is_some(),
            upstream: self.upstream.is_some(),
        }
    }

    /// `--queue-deadline`, if on.
    pub fn queue_deadline(&self) -> Option<Duration> {
        (self.queue_deadline > 0).then(|| Duration::from_millis(self.queue_deadline))
    }

    pub fn limits(&self) -> Limits {
        Limits {
            default_sleep: self.sleep,
            max_sleep: self.max_sleep,
        }
    }

    /// Whether `--database`, if given, reads as a connection string of the driver's `Config`
    /// (whose parser a server passes in: the core knows no driver).
    pub fn check_database<Config: std::str::FromStr>(&self) -> Result<(), String>
    where
        Config::Err: std::fmt::Display,
    {
        match &self.database {
            Some(url) => url
                .parse::<Config>()
                .map(drop)
                .map_err(|error| format!("--database {url:?} is not a PostgreSQL URL: {error}")),
            None => Ok(()),
        }
    }

    /// The checks that span several flags.
    pub fn check(&self) -> Result<(), String> {
        if self.sleep > self.max_sleep {
            return Err(format!(
                "--sleep {} is above --max-sleep {}",
                self.sleep.as_secs_f64(),
                self.max_sleep.as_secs_f64()
            ));
        }
        Ok(())
    }
}

/// A binary's command line: a clap parser, with the checks that span several flags.
pub trait Arguments: Parser {
    /// What is wrong with these flags taken together, if anything.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Parses the process's arguments with `T`. On `--help` or `--version` it prints them and gives
/// the status 0 to exit with; on a bad flag or value, one line and the status 2. A binary's
/// `main` reads: `match cli::parse() { Ok(args) => cli::finish(run(args)), Err(exit) => exit }`.
pub fn parse<T: Arguments>() -> Result<T, ExitCode> {
    try_parse_from(std::env::args_os()).map_err(report)
}

fn try_parse_from<T: Arguments>(
    args: impl IntoIterator<Item = impl Into<std::ffi::OsString> + Clone>,
) -> Result<T, clap::Error> {
    let parsed = T::try_parse_from(args)?;
    match parsed.check() {
        Ok(()) => Ok(parsed),
        Err(message) => Err(T::command().error(ErrorKind::ArgumentConflict, message)),
    }
}

/// Reports a command-line `error` and says how to exit: help and version print on stdout and
/// give 0; anything else prints the first line of clap's message, which says what was wrong, and
/// gives 2.
fn report(error: clap::Error) -> ExitCode {
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = error.print();
        return ExitCode::SUCCESS;
    }
    let rendered = error.render().to_string();
    let first = rendered.lines().next().unwrap_or("error: bad arguments");
    eprintln!("{first} (see {} --help)", program());
    ExitCode::from(2)
}

/// How `main` ends in every binary: 0, or `<program>: error: <what failed>: <why>` on one line
/// and 1 (for failures after parsing, such as a port already in use).
pub fn finish(outcome: anyhow::Result<()>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}: error: {error:#}", program());
            ExitCode::FAILURE
        }
    }
}

fn program() -> String {
    let path = std::env::args_os().next().unwrap_or_default();
    let name = std::path::Path::new(&path).file_name().unwrap_or_default();
    name.to_string_lossy().into_owned()
}

/// A count flag's value: a whole number from 1 to 1024.
pub fn count(text: &str) -> Result<usize, String> {
    match text.parse() {
        Ok(count @ 1..=1024) => Ok(count),
        _ => Err("expected a whole number from 1 to 1024".to_owned()),
    }
}

/// A thread count's value: a whole number from 1 to 100,000. Whether the operating system will
/// start that many is for it to say, when asked.
pub fn threads(text: &str) -> Result<usize, String> {
    match text.parse() {
        Ok(count @ 1..=100_000) => Ok(count),
        _ => Err("expected a whole number from 1 to 100000".to_owned()),
    }
}

fn host(text: &str) -> Result<IpAddr, String> {
    if let Ok(ip) = text.parse() {
        return Ok(ip);
    }
    // A name such as `localhost`: take the first address it resolves to.
    match (text, 0).to_socket_addrs().map(|mut found| found.next()) {
        Ok(Some(addr)) => Ok(addr.ip()),
        _ => Err("not an IP address, nor a host name this machine resolves".to_owned()),
    }
}

/// `--upstream`'s value: `http://HOST:PORT`, perhaps with a path the calls go under, without its
/// trailing `/`. Plain HTTP only: the upstream is a service on the same machine or network.
fn upstream(text: &str) -> Result<String, String> {
    let expected = "expected http://HOST:PORT";
    let Some(rest) = text.strip_prefix("http://") else {
        return Err(format!("not an http:// URL; {expected}"));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if text.contains(['?', '#', ' ']) || authority.contains('@') {
        return Err(format!(
            "a base URL has no query, fragment or user; {expected}"
        ));
    }
    if authority.is_empty() || authority.starts_with(':') {
        return Err(format!("no host; {expected}"));
    }
    // `[::1]:8001` has a port after its last `:`, `[::1]` none.
    let port = match authority.rsplit_once(':') {
        Some((_, port)) if !port.ends_with(']') => Some(port),
        _ => None,
    };
    if port.is_some_and(|port| port.parse::<u16>().is_err()) {
        return Err(format!(
            "the port is not a number from 0 to 65535; {expected}"
        ));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// A timeout flag's value: a positive, finite number of seconds.
pub fn timeout(text: &str) -> Result<Duration, String> {
    match seconds(text)? {
        Duration::ZERO => Err("must be more than 0".to_owned()),
        timeout => Ok(timeout),
    }
}

/// A duration flag's value: a non-negative, finite number of seconds.
pub fn seconds(text: &str) -> Result<Duration, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| "not a number of seconds".to_owned())?;
    if !value.is_finite() {
        return Err("not finite".to_owned());
    }
    if value < 0.0 {
        return Err("negative".to_owned());
    }
    Duration::try_from_secs_f64(value).map_err(|_| "too large".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server's parser, as the binaries write theirs.
    #[derive(Parser, Debug)]
    #[command(name = "test-server", version = "1.2.3")]
    struct TestServer {
        #[command(flatten)]
        common: ServerFlags,
        /// Port to bind
        #[arg(short, long, value_name = "N", default_value_t = 8123)]
        port: u16,
        /// How many threads
        #[arg(long, value_name = "N", default_value = "1", value_parser = count)]
        threads: usize,
    }

    impl Arguments for TestServer {
        fn check(&self) -> Result<(), String> {
            self.common.check()
        }
    }

    fn parse(args: &[&str]) -> Result<TestServer, clap::Error> {
        try_parse_from(std::iter::once("test-server").chain(args.iter().copied()))
    }

    fn first_line(args: &[&str]) -> String {
        let error = parse(args).expect_err("should be refused");
        assert_eq!(error.exit_code(), 2);
        error
            .render()
            .to_string()
            .lines()
            .next()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn defaults_are_the_contracts() {
        let parsed = parse(&[]).unwrap();
        assert_eq!(
            parsed.common.addr(parsed.port),
            "127.0.0.1:8123".parse().unwrap()
        );
        let limits = parsed.common.limits();
        assert_eq!(limits.default_sleep, Duration::from_secs(5));
        assert_eq!(limits.max_sleep, Duration::from_secs(60));
        assert_eq!(parsed.threads, 1);
        assert_eq!(parsed.common.max_connections, 10_000);
        assert_eq!(parsed.common.queue_deadline(), None);
        let deadline = parse(&["--queue-deadline", "250"]).unwrap().common;
        assert_eq!(deadline.queue_deadline(), Some(Duration::from_millis(250)));
    }

    #[test]
    fn every_flag_is_read() {
        let args = [
            "--host",
            "::1",
            "-p",
            "0",
            "--sleep",
            "0.5",
            "--max-sleep",
            "2",
        ];
        let parsed = parse(&args).unwrap();
        assert_eq!(parsed.common.addr(parsed.port), "[::1]:0".parse().unwrap());
        assert_eq!(parsed.common.sleep, Duration::from_millis(500));
        assert_eq!(parsed.common.max_sleep, Duration::from_secs(2));
        assert_eq!(parse(&["--port", "9"]).unwrap().port, 9);
        assert_eq!(parse(&["--threads", "1024"]).unwrap().threads, 1024);
        assert_eq!(threads("10000"), Ok(10_000));
        assert_eq!(threads("100000"), Ok(100_000));
        assert!(threads("100001").unwrap_err().contains("from 1 to 100000"));
        assert!(threads("0").is_err());
        let local = parse(&["--host", "localhost"]).unwrap().common.host;
        assert!(local.is_loopback(), "{local}");
        let upstream = [
            "--upstream",
            "http://127.0.0.1:8001/",
            "--upstream-connections",
            "7",
        ];
        let parsed = parse(&upstream).unwrap().common;
        assert_eq!(parsed.upstream.as_deref(), Some("http://127.0.0.1:8001"));
        assert_eq!(parsed.upstream_connections, 7);
        assert!(parsed.backends().upstream && !parsed.backends().database);
        assert_eq!(parse(&[]).unwrap().common.upstream_connections, 100);
        let under = parse(&["--upstream", "http://localhost:9/api"]).unwrap();
        assert_eq!(
            under.common.upstream.as_deref(),
            Some("http://localhost:9/api")
        );
    }

    #[test]
    fn bad_flags_and_values_are_refused_in_one_clear_line() {
        for (args, says) in [
            (&["--bogus"][..], "'--bogus'"),
            (&["--port", "70000"], "70000"),
            (&["--port", "x"], "'x'"),
            (&["--sleep", "abc"], "not a number"),
            (&["--sleep", "-1"], "negative"),
            (&["--max-sleep", "inf"], "not finite"),
            (&["--max-sleep", "1e300"], "too large"),
            (&["--host", "not a host"], "not an IP address"),
            (
                &["--sleep", "10", "--max-sleep", "3"],
                "--sleep 10 is above --max-sleep 3",
            ),
            (&["extra"], "'extra'"),
            (&["--threads", "0"], "from 1 to 1024"),
            (&["--threads", "1025"], "from 1 to 1024"),
            (&["--threads", "many"], "from 1 to 1024"),
            (&["--header-timeout", "0"], "more than 0"),
            (
                &["--upstream", "https://127.0.0.1:8001"],
                "not an http:// URL",
            ),
            (&["--upstream", "127.0.0.1:8001"], "not an http:// URL"),
            (&["--upstream", "http://"], "no host"),
            (&["--upstream", "http://:80"], "no host"),
            (
                &["--upstream", "http://localhost:http"],
                "the port is not a number",
            ),
            (&["--upstream", "http://localhost:1?x=1"], "no query"),
            (&["--upstream-connections", "0"], "0"),
        ] {
            let line = first_line(args);
            assert!(line.starts_with("error: "), "{args:?}: {line}");
            assert!(line.contains(says), "{args:?}: {line:?} lacks {says:?}");
        }
    }

    #[test]
    fn help_and_version_name_the_program() {
        let help = parse(&["--help"]).unwrap_err();
        assert_eq!(help.kind(), ErrorKind::DisplayHelp);
        let text = help.render().to_string();
        assert!(text.contains("Usage: test-server"), "{text}");
        assert!(text.contains("[default: 8123]"), "{text}");
        for flag in [
            "--host <ADDR>",
            "--port <N>",
            "--sleep <SECONDS>",
            "--max-sleep <SECONDS>",
            "--threads <N>",
        ] {
            assert!(text.contains(flag), "{flag} missing from {text}");
        }
        let version = parse(&["--version"]).unwrap_err();
        assert_eq!(version.render().to_string(), "test-server 1.2.3\n");
    }
}
