//! `--spawn`: starts the servers built beside this binary on free ports, and makes sure none is
//! left running when `compare` ends: on return or panic ([`Drop`]) and on Ctrl-C or `SIGTERM`
//! (a signal handler), whether the requests succeeded or not. It keeps the `BLOCKED` lines each
//! server prints, for the report.

use anyhow::{anyhow, bail, Context};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{self, Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::role::Role;
use pgcluster::Cluster;
use probe::seed::Stack;
use probe::Target;

/// How long a server may take to print its `listening on` line.
const STARTUP: Duration = Duration::from_secs(10);
/// How long one of the seed's Django servers may take to answer (Python starts slowly).
const SEED_STARTUP: Duration = Duration::from_secs(30);

/// Set first thing on Ctrl-C: the servers' deaths then make requests fail, and `main` may be the
/// one to exit; it must exit as interrupted all the same.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether Ctrl-C (or `SIGTERM`) ended the run.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// A server's `BLOCKED` lines not yet reported.
type Lines = Arc<Mutex<Vec<String>>>;

/// The servers this process started; they are killed when it is dropped, and the database it
/// started, if any, stopped and removed.
pub struct Servers {
    children: Arc<Mutex<Vec<Child>>>,
    databases: Arc<Mutex<Vec<Cluster>>>,
    /// Each started server's `BLOCKED` lines, by its URL.
    blocked: Mutex<HashMap<String, Lines>>,
    /// Each started server's process id, by its URL.
    pids: Mutex<HashMap<String, u32>>,
}

impl Servers {
    /// Prepares to start servers, and arranges for them to be killed on Ctrl-C or `SIGTERM`.
    pub fn new() -> anyhow::Result<Servers> {
        let children = Arc::new(Mutex::new(Vec::new()));
        let databases = Arc::new(Mutex::new(Vec::new()));
        let on_signal = Arc::clone(&children);
        let databases_on_signal = Arc::clone(&databases);
        ctrlc::set_handler(move || {
            INTERRUPTED.store(true, Ordering::SeqCst);
            kill_all(&on_signal);
            stop_databases(&databases_on_signal);
            eprintln!("\ncompare: interrupted");
            process::exit(130);
        })
        .context("cannot handle Ctrl-C")?;
        Ok(Servers {
            children,
            databases,
            blocked: Mutex::default(),
            pids: Mutex::default(),
        })
    }

    /// Starts a throwaway PostgreSQL cluster (from the system's binaries) that takes at most
    /// `max_connections` at once, for the servers' `/query`; its URL. It is stopped and removed
    /// with the servers.
    pub fn start_database(&self, max_connections: u32) -> anyhow::Result<String> {
        let cluster =
            Cluster::start(max_connections).context("cannot start a throwaway database")?;
        let url = cluster.url();
        println!(
            "started a throwaway PostgreSQL cluster (max_connections {max_connections}) at {url}"
        );
        self.databases.lock().unwrap().push(cluster);
        Ok(url)
    }

    /// Waits, at most `within`, until the cluster this process started at `url` serves no client:
    /// the backends of a server just stopped take a moment to notice and exit.
    pub fn await_no_clients(&self, url: &str, within: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            let clients = {
                let databases = self.databases.lock().unwrap();
                let cluster = databases.iter().find(|cluster| cluster.url() == url);
                cluster.map_or(0, Cluster::clients)
            };
            if clients == 0 {
                return Ok(());
            }
            if started.elapsed() > within {
                bail!("the database at {url} still serves {clients} clients after {within:?}");
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Starts `name` (a binary beside this one) with `args` on a free port of 127.0.0.1 and
    /// waits for it to listen. Flags not given keep their defaults, which suit every `--scale`.
    pub fn start(&self, name: &str, args: &[&str]) -> anyhow::Result<Target> {
        let binary = std::env::current_exe()
            .context("cannot locate this binary")?
            .with_file_name(format!("{name}{}", std::env::consts::EXE_SUFFIX));
        if !binary.exists() {
            bail!(
                "{} not found; build the servers first: cargo build --release",
                binary.display()
            );
        }
        let mut command = Command::new(&binary);
        command
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        outlived_by_nothing(&mut command);
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let pid = child.id();
        self.children.lock().unwrap().push(child);

        // Read the port from the first lines; then keep reading, so the server never blocks on
        // a full pipe as it logs.
        let (found, listening) = mpsc::channel();
        let blocked = Lines::default();
        let kept = Arc::clone(&blocked);
        thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("BLOCKED ") {
                    kept.lock().unwrap().push(line);
                } else if let Some(target) = Target::announced_by(&line) {
                    if let Some(found) = found.take() {
                        let _ = found.send(target);
                    }
                }
            }
        });
        let target = listening
            .recv_timeout(STARTUP)
            .map_err(|error| match error {
                mpsc::RecvTimeoutError::Timeout => {
                    anyhow!("{name} did not start listening within {STARTUP:?}")
                }
                mpsc::RecvTimeoutError::Disconnected => anyhow!("{name} exited before listening"),
            })?;
        let command = [name]
            .iter()
            .chain(args)
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        println!("started {command} (PID {pid}) at {}", target.url);
        self.blocked
            .lock()
            .unwrap()
            .insert(target.url.clone(), blocked);
        self.pids.lock().unwrap().insert(target.url.clone(), pid);
        Ok(target)
    }

    /// Starts one of the seed's Django servers with `python` (the seed's environment's) on a
    /// free port of 127.0.0.1, its `/query` on `database` and its `/fetch` calling `upstream`
    /// where given, and waits until it answers: Django says where it listens in words of its
    /// own, so the port is chosen here.
    pub fn start_seed(
        &self,
        stack: Stack,
        (python, project): (&Path, &Path),
        database: Option<&str>,
        upstream: Option<&str>,
    ) -> anyhow::Result<Target> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .context("cannot find a free port")?
            .port();
        let args = stack
            .args()
            .iter()
            .map(|arg| arg.replace("{port}", &port.to_string()));
        let mut command = Command::new(python);
        command
            .args(args)
            .current_dir(project)
            .env("SEED_DATABASE", database.unwrap_or(""))
            .env("SEED_UPSTREAM", upstream.unwrap_or(""))
            // Its START lines and access log are not what compare reports.
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        outlived_by_nothing(&mut command);
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}", stack.command()))?;
        // Its last lines, to say why if it never answers; read all along so it never blocks.
        let said = Arc::new(Mutex::new(std::collections::VecDeque::new()));
        let stderr = child.stderr.take().expect("stderr is piped");
        let kept = Arc::clone(&said);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut kept = kept.lock().unwrap();
                if kept.len() == 20 {
                    kept.pop_front();
                }
                kept.push_back(line);
            }
        });
        let pid = child.id();
        self.children.lock().unwrap().push(child);
        let target = Target::parse(&format!("http://127.0.0.1:{port}")).map_err(|e| anyhow!(e))?;
        let started = Instant::now();
        while target
            .get("/nosleep", Instant::now() + Duration::from_secs(1))
            .is_err()
        {
            if started.elapsed() > SEED_STARTUP {
                let said: Vec<String> = said.lock().unwrap().iter().cloned().collect();
                bail!(
                    "{} did not answer within {SEED_STARTUP:?}; it said:\n{}",
                    stack.command(),
                    said.join("\n")
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
        println!("started {} (PID {pid}) at {}", stack.command(), target.url);
        self.pids.lock().unwrap().insert(target.url.clone(), pid);
        Ok(target)
    }

    /// Starts the server of `role` on a free port, with `database` and `upstream` where given:
    /// one of ours with the role's flags, or one of the seed's with `seed` (its environment's
    /// python and its project), which a seed role needs.
    pub fn start_role(
        &self,
        role: Role,
        seed: Option<(&Path, &Path)>,
        database: Option<&str>,
        upstream: Option<&str>,
    ) -> anyhow::Result<Target> {
        if let Some(stack) = role.seed_stack() {
            let seed = seed.context("the seed's servers run only with --seed")?;
            return self.start_seed(stack, seed, database, upstream);
        }
        let mut args = role.flags();
        for (flag, url) in [("--database", database), ("--upstream", upstream)] {
            if let Some(url) = url {
                args.extend([flag.to_owned(), url.to_owned()]);
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.start(role.binary(), &args)
    }

    /// The process id of the server this process started at `url`.
    pub fn pid(&self, url: &str) -> Option<u32> {
        self.pids.lock().unwrap().get(url).copied()
    }

    /// Stops the server this process started at `target`, before the others.
    pub fn stop(&self, target: &Target) {
        let pid = self.pids.lock().unwrap().remove(&target.url);
        let mut children = self.children.lock().unwrap();
        if let Some(at) = children.iter().position(|child| Some(child.id()) == pid) {
            let mut child = children.remove(at);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The `BLOCKED` lines the server at `url` has printed since last asked (none for a server
    /// this process did not start).
    pub fn blocked_lines(&self, url: &str) -> Vec<String> {
        let blocked = self.blocked.lock().unwrap();
        let lines = blocked
            .get(url)
            .map(|lines| std::mem::take(&mut *lines.lock().unwrap()));
        lines.unwrap_or_default()
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        kill_all(&self.children);
        stop_databases(&self.databases);
    }
}

/// Makes `command`'s process one that this process's end ends, however it ends: in a process
/// group of its own, so that a Ctrl-C in the terminal goes to this process alone (which then
/// kills the servers; they would otherwise begin a graceful shutdown of their own), and killed
/// by the kernel if this process dies first, even by `SIGKILL`, which no handler sees. The
/// kernel ties that to the thread that starts it: every server is started from `main`'s.
fn outlived_by_nothing(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    command.process_group(0);
    // SAFETY: the closure runs in the child between fork and exec, and calls only prctl, getppid
    // and _exit, which are async-signal-safe and touch no memory of the parent's.
    let parent = std::process::id();
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // This process may have died before the child asked: then it has a new parent.
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

fn stop_databases(databases: &Mutex<Vec<Cluster>>) {
    let mut databases = databases
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    databases.clear();
}

fn kill_all(children: &Mutex<Vec<Child>>) {
    // A panic elsewhere may have poisoned the lock; the children must go regardless.
    let mut children = children
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for child in children.iter_mut() {
        let _ = child.kill();
        let _ = child.wait();
    }
    children.clear();
}
