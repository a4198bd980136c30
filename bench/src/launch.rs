//! Starting a server under measurement, pinned to its core, its output going straight to a file.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use probe::Target;

/// How long a server may take to start listening (Django takes about a second).
const STARTUP: Duration = Duration::from_secs(30);

/// A server the runner can start: one of this workspace's binaries, which take `--port 0` and
/// say where they listen, or one of the seed's, which is given a free port.
#[derive(Clone)]
pub struct Launch {
    pub name: &'static str,
    program: PathBuf,
    args: Vec<String>,
    dir: Option<PathBuf>,
    /// Whether the program is told a port (`{port}` in `args`) rather than announcing one.
    told_port: bool,
}

impl Launch {
    /// A binary of this workspace, from `bin`: `name` is the binary, then any flags it is run
    /// with (`async-server --warn-blocked 0`).
    pub fn ours(bin: &Path, name: &'static str) -> Launch {
        let mut words = name.split(' ');
        let program = bin.join(words.next().expect("a binary's name"));
        let args = ["--port", "0"].into_iter().chain(words);
        Launch {
            name,
            program,
            args: args.map(str::to_owned).collect(),
            dir: None,
            told_port: false,
        }
    }

    /// A binary of this workspace, from `bin`, run with `flags` (one string, split at spaces),
    /// for flags known only when the runner runs (a database's URL).
    pub fn ours_with(bin: &Path, name: &'static str, flags: &str) -> Launch {
        let args = ["--port", "0"].into_iter().chain(flags.split(' '));
        Launch {
            name,
            program: bin.join(name),
            args: args.map(str::to_owned).collect(),
            dir: None,
            told_port: false,
        }
    }

    /// The same server run under `wrapper` (a program and its flags, `valgrind --tool=...`).
    pub fn under(&self, wrapper: &[&str]) -> Launch {
        let (program, flags) = wrapper.split_first().expect("a wrapping program");
        let args = flags.iter().map(|flag| flag.to_string());
        let args = args.chain([self.program.display().to_string()]);
        Launch {
            program: PathBuf::from(program),
            args: args.chain(self.args.iter().cloned()).collect(),
            ..self.clone()
        }
    }

    /// `program args...` run in `dir`, where each `{port}` in `args` becomes a free port.
    pub fn told_port(name: &'static str, program: PathBuf, args: &[&str], dir: &Path) -> Launch {
        Launch {
            name,
            program,
            args: args.iter().map(|arg| arg.to_string()).collect(),
            dir: Some(dir.to_owned()),
            told_port: true,
        }
    }

    /// Starts the server pinned to core 0, its stdout and stderr going to `log`; returns it and
    /// its URL once it accepts connections.
    pub fn start(&self, log: &Path, cores: usize) -> (Server, String) {
        let port = if self.told_port { free_port() } else { 0 };
        let mut command = pinned(&self.program, 0, cores);
        command.args(
            self.args
                .iter()
                .map(|arg| arg.replace("{port}", &port.to_string())),
        );
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        // Its output, the request log, goes straight to a file, as a logging server's would.
        let file = fs::File::create(log).unwrap();
        let stderr = if self.told_port {
            Stdio::from(file.try_clone().unwrap()) // Django and uvicorn log requests there
        } else {
            Stdio::null()
        };
        command.stdout(file).stderr(stderr);
        let server = Server(command.spawn().expect("the server starts"));
        let deadline = Instant::now() + STARTUP;
        loop {
            let url = if self.told_port {
                let url = format!("http://127.0.0.1:{port}");
                std::net::TcpStream::connect(("127.0.0.1", port))
                    .is_ok()
                    .then_some(url)
            } else {
                let output = fs::read_to_string(log).unwrap_or_default();
                output
                    .lines()
                    .find_map(Target::announced_by)
                    .map(|target| target.url)
            };
            if let Some(url) = url {
                return (server, url);
            }
            assert!(
                Instant::now() < deadline,
                "{} did not start listening",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A port nobody listens on just now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().unwrap().port()
}

/// A running server, killed when dropped.
pub struct Server(Child);

impl Server {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Sends `SIGTERM` and waits up to `within` for the server to exit; whether it did.
    pub fn stop(mut self, within: Duration) -> bool {
        let signalled = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        if !signalled.is_ok_and(|status| status.success()) {
            return false;
        }
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `program`, pinned to `core` when there are two cores or more.
pub fn pinned(program: &Path, core: usize, cores: usize) -> Command {
    if cores >= 2 {
        let mut command = Command::new("taskset");
        command.arg("-c").arg(core.to_string()).arg(program);
        command
    } else {
        Command::new(program)
    }
}
