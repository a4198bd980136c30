//! The command line both servers take (`CONTRACT.md`, Command line), and their one-line errors.
//!
//! This is the one part of the crate that touches the process: a bad flag prints one line and
//! exits with 2, as the contract asks, instead of clap's several lines.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::process;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{value_parser, Arg, CommandFactory, FromArgMatches, Parser};

use crate::Limits;

/// The server being started, for its `--help`, `--version` and error lines.
#[derive(Clone, Copy, Debug)]
pub struct Program {
    pub name: &'static str,
    pub version: &'static str,
    pub about: &'static str,
    pub default_port: u16,
    /// The flag that sets how many threads run handlers (`threads`, `workers`) and its help.
    pub parallelism: (&'static str, &'static str),
}

/// What the command line asked for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    pub addr: SocketAddr,
    pub limits: Limits,
    /// How many threads run handlers: the value of the `parallelism` flag, 1 to 1024.
    pub parallelism: usize,
}

#[derive(Parser, Debug)]
struct Args {
    /// Address to bind
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1", value_parser = host)]
    host: IpAddr,
    /// Port to bind; 0 picks a free one
    #[arg(short, long, value_name = "N")]
    port: u16,
    /// How long /sleep waits when the request names no duration
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = seconds, allow_hyphen_values = true)]
    sleep: Duration,
    /// The longest wait a request may ask for (also the grace period at shutdown)
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = seconds, allow_hyphen_values = true)]
    max_sleep: Duration,
}

impl Program {
    /// Parses the process's arguments; on `--help` or `--version` prints and exits 0, on a bad
    /// flag or value prints one line and exits 2.
    pub fn parse_args(&self) -> Config {
        self.try_parse_from(std::env::args_os())
            .unwrap_or_else(|error| self.exit_on(error))
    }

    fn try_parse_from<I, T>(&self, args: I) -> Result<Config, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let (flag, help) = self.parallelism;
        let mut command = Args::command()
            .name(self.name)
            .bin_name(self.name)
            .version(self.version)
            .about(self.about)
            .mut_arg("port", |port| {
                port.default_value(self.default_port.to_string())
                    .required(false)
            })
            .arg(
                Arg::new(flag)
                    .long(flag)
                    .value_name("N")
                    .default_value("1")
                    .value_parser(value_parser!(u16).range(1..=1024))
                    .help(help),
            );
        let matches = command.try_get_matches_from_mut(args)?;
        let args = Args::from_arg_matches(&matches)?;
        let parallelism = matches.get_one::<u16>(flag).copied().unwrap_or(1).into();
        if args.sleep > args.max_sleep {
            return Err(command.error(
                ErrorKind::ArgumentConflict,
                format!(
                    "--sleep {} is above --max-sleep {}",
                    args.sleep.as_secs_f64(),
                    args.max_sleep.as_secs_f64()
                ),
            ));
        }
        Ok(Config {
            addr: SocketAddr::new(args.host, args.port),
            limits: Limits {
                default_sleep: args.sleep,
                max_sleep: args.max_sleep,
            },
            parallelism,
        })
    }

    fn exit_on(&self, error: clap::Error) -> ! {
        exit_on(self.name, error)
    }

    /// Prints `<name>: error: <message>` on one line and exits 1: for failures after parsing,
    /// such as a port already in use.
    pub fn fail(&self, message: impl std::fmt::Display) -> ! {
        eprintln!("{}: error: {message}", self.name);
        process::exit(1);
    }
}

/// Ends the process for a command-line `error`: help and version print and exit 0; anything
/// else prints the first line of clap's message, which says what was wrong, and exits 2.
pub fn exit_on(program: &str, error: clap::Error) -> ! {
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        error.exit();
    }
    let rendered = error.render().to_string();
    let first = rendered.lines().next().unwrap_or("error: bad arguments");
    eprintln!("{first} (see {program} --help)");
    process::exit(2);
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

fn seconds(text: &str) -> Result<Duration, String> {
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

    const PROGRAM: Program = Program {
        name: "test-server",
        version: "1.2.3",
        about: "a server under test",
        default_port: 8123,
        parallelism: ("threads", "How many threads run handlers"),
    };

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        PROGRAM.try_parse_from(std::iter::once("test-server").chain(args.iter().copied()))
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
        let config = parse(&[]).unwrap();
        assert_eq!(config.addr, "127.0.0.1:8123".parse().unwrap());
        assert_eq!(config.limits.default_sleep, Duration::from_secs(5));
        assert_eq!(config.limits.max_sleep, Duration::from_secs(60));
        assert_eq!(config.parallelism, 1);
    }

    #[test]
    fn every_flag_is_read() {
        let config = parse(&[
            "--host",
            "::1",
            "-p",
            "0",
            "--sleep",
            "0.5",
            "--max-sleep",
            "2",
        ]);
        let config = config.unwrap();
        assert_eq!(config.addr, "[::1]:0".parse().unwrap());
        assert_eq!(config.limits.default_sleep, Duration::from_millis(500));
        assert_eq!(config.limits.max_sleep, Duration::from_secs(2));
        assert_eq!(parse(&["--port", "9"]).unwrap().addr.port(), 9);
        assert_eq!(parse(&["--threads", "1024"]).unwrap().parallelism, 1024);
        let local = parse(&["--host", "localhost"]).unwrap().addr.ip();
        assert!(local.is_loopback(), "{local}");
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
            (&["--threads", "0"], "'0'"),
            (&["--threads", "1025"], "1..=1024"),
            (&["--threads", "many"], "'many'"),
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
        ] {
            assert!(text.contains(flag), "{flag} missing from {text}");
        }
        let version = parse(&["--version"]).unwrap_err();
        assert_eq!(version.render().to_string(), "test-server 1.2.3\n");
    }
}
