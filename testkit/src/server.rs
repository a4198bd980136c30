//! A server process under test: started on port 0, its every line kept (with the moment it
//! arrived) for a test to wait on, its requests timed, and killed when dropped.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use probe::Target;

use crate::{Reply, ERR, OUT, PATIENCE};

/// A server process under test.
pub struct Server {
    child: Child,
    target: Target,
    stdout: Arc<Lines>,
    stderr: Arc<Lines>,
}

/// A line a server printed, and when the test saw it.
#[derive(Clone, Debug)]
pub struct Line {
    pub text: String,
    pub at: Instant,
}

#[derive(Default)]
struct Lines {
    seen: Mutex<Seen>,
    grown: Condvar,
}

#[derive(Default)]
struct Seen {
    lines: Vec<Line>,
    /// The stream has ended (the process exited): no line will come any more.
    ended: bool,
}

impl Lines {
    fn collect(source: impl Read + Send + 'static) -> Arc<Lines> {
        let lines = Arc::new(Lines::default());
        let sink = Arc::clone(&lines);
        thread::spawn(move || {
            for text in BufReader::new(source).lines().map_while(Result::ok) {
                let at = Instant::now();
                sink.seen.lock().unwrap().lines.push(Line { text, at });
                sink.grown.notify_all();
            }
            sink.seen.lock().unwrap().ended = true;
            sink.grown.notify_all();
        });
        lines
    }

    /// The first `count` lines `wanted` accepts, once there are that many.
    fn wait_for(
        &self,
        wanted: impl Fn(&str) -> bool,
        count: usize,
        within: Duration,
    ) -> Option<Vec<Line>> {
        let deadline = Instant::now() + within;
        let mut seen = self.seen.lock().unwrap();
        loop {
            let found: Vec<_> = seen
                .lines
                .iter()
                .filter(|line| wanted(&line.text))
                .collect();
            if found.len() >= count {
                return Some(found.into_iter().take(count).cloned().collect());
            }
            if seen.ended {
                return None;
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            seen = self.grown.wait_timeout(seen, left).unwrap().0;
        }
    }

    fn all(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        seen.lines.iter().map(|line| line.text.clone()).collect()
    }
}

impl Server {
    /// Starts `binary --port 0 <args>` and waits for its `listening on` line.
    pub fn start(binary: &str, args: &[&str]) -> Server {
        let mut command = Command::new(binary);
        command.args(["--port", "0"]).args(args);
        Server::launch(command, binary)
    }

    /// As [`Server::start`], with at most `files` open file descriptors (`ulimit -n`).
    pub fn start_with_file_limit(binary: &str, args: &[&str], files: u32) -> Server {
        let mut command = Command::new("sh");
        // `exec` keeps the process id: it is the server's.
        command
            .args(["-c", "ulimit -n \"$0\" && exec \"$@\""])
            .arg(files.to_string())
            .args([binary, "--port", "0"])
            .args(args);
        Server::launch(command, binary)
    }

    /// Starts `command` (a server binary with its flags, `--port` among them) and waits for its
    /// `listening on` line.
    pub fn launch(mut command: Command, binary: &str) -> Server {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {binary}: {error}"));
        let stdout = Lines::collect(child.stdout.take().expect(OUT));
        let stderr = Lines::collect(child.stderr.take().expect(ERR));
        let mut server = Server {
            child,
            target: Target::at(SocketAddr::from(([127, 0, 0, 1], 0))),
            stdout,
            stderr,
        };
        let line = server.wait_for_stdout(|line| Target::announced_by(line).is_some());
        server.target = Target::announced_by(&line.text).expect("the line just matched");
        assert_ne!(server.addr().port(), 0, "the real port, not 0");
        server
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn addr(&self) -> SocketAddr {
        self.target.addr
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Waits (boundedly) for a line on stdout that `wanted` accepts; any line printed so far
    /// counts. Panics if none comes in time or the stream ends first.
    pub fn wait_for_stdout(&self, wanted: impl Fn(&str) -> bool) -> Line {
        self.wait_for_stdout_lines(wanted, 1).remove(0)
    }

    /// Waits (boundedly) for `count` lines on stdout that `wanted` accepts.
    pub fn wait_for_stdout_lines(&self, wanted: impl Fn(&str) -> bool, count: usize) -> Vec<Line> {
        self.stdout
            .wait_for(wanted, count, PATIENCE)
            .unwrap_or_else(|| panic!("{count} such lines never came; {}", self.output()))
    }

    /// Waits (boundedly) for a line on stderr that `wanted` accepts.
    pub fn wait_for_stderr(&self, wanted: impl Fn(&str) -> bool) -> Line {
        let found = self.stderr.wait_for(wanted, 1, PATIENCE);
        let mut found = found.unwrap_or_else(|| panic!("the line never came; {}", self.output()));
        found.remove(0)
    }

    /// Every stdout line so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.all()
    }

    fn output(&self) -> String {
        format!(
            "stdout: {:#?}\nstderr: {:#?}",
            self.stdout.all(),
            self.stderr.all()
        )
    }

    /// `GET target` on a connection of its own.
    pub fn get(&self, target: &str) -> Reply {
        self.request("GET", target)
    }

    /// `method target` on a connection of its own.
    pub fn request(&self, method: &str, target: &str) -> Reply {
        let answer = self
            .target
            .request(method, target, Instant::now() + PATIENCE);
        answer.unwrap_or_else(|failure| panic!("{method} {target}: {failure}; {}", self.output()))
    }

    /// Sends `raw` bytes on a new connection and reads until the server closes it.
    pub fn send_raw(&self, raw: &[u8]) -> Reply {
        let answer = self.target.send_raw(raw, Instant::now() + PATIENCE);
        answer.unwrap_or_else(|failure| panic!("{raw:?}: {failure}; {}", self.output()))
    }

    /// Sends a signal (`libc::SIGTERM`, say) to the server.
    pub fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.pid()).unwrap();
        // SAFETY: kill(2) only sends a signal to our own child process.
        let sent = unsafe { libc::kill(pid, signal) };
        assert_eq!(sent, 0, "kill failed");
    }

    /// Waits (boundedly) for the server to exit.
    pub fn wait_for_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running; {}",
                self.output()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
