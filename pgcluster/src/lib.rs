//! A throwaway PostgreSQL cluster, from the system's own binaries (Debian's `initdb` and
//! `pg_ctl`, under `/usr/lib/postgresql/<version>/bin`, which are not on `PATH`): made in a
//! temporary directory, listening on a free port of 127.0.0.1 with trust authentication, and
//! stopped and removed when its [`Cluster`] is dropped. As root it runs as the `postgres` user,
//! which PostgreSQL requires; nothing is downloaded.
//!
//! The tests, `compare --spawn` and the benchmark runner start one each; `cargo run -p pgcluster`
//! starts one by hand and prints the URL to pass as `--database`.

use std::ffi::CString;
use std::fs;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{bail, Context};

/// A running cluster of its own, removed on drop.
#[derive(Debug)]
pub struct Cluster {
    /// The temporary directory: the data directory, the log and the Unix socket.
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    max_connections: u32,
    /// The user and group the cluster's processes run as, when this process is root.
    owner: Option<(u32, u32)>,
}

impl Cluster {
    /// Makes and starts a cluster that takes at most `max_connections` connections at once.
    pub fn start(max_connections: u32) -> anyhow::Result<Cluster> {
        let bin = bin_dir()?;
        let owner = owner()?;
        remove_abandoned(&bin, owner);
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let count = COUNT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("pgcluster-{}-{count}", std::process::id()));
        fs::create_dir_all(&dir).with_context(|| format!("cannot make {}", dir.display()))?;
        let cluster = Cluster {
            dir,
            bin,
            port: free_port()?,
            max_connections,
            owner,
        };
        if let Some((uid, gid)) = owner {
            let path = CString::new(cluster.dir.as_os_str().as_encoded_bytes())?;
            // SAFETY: `path` is a valid C string; chown takes no other memory.
            if unsafe { libc::chown(path.as_ptr(), uid, gid) } != 0 {
                bail!("cannot give {} to postgres", cluster.dir.display());
            }
        }
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-sync".as_ref(),
                "--no-instructions".as_ref(),
            ],
        )?;
        cluster.resume()?;
        Ok(cluster)
    }

    /// The URL to connect to it: `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The most connections it takes at once.
    pub fn max_connections(&self) -> u32 {
        self.max_connections
    }

    /// Stops it at once, as a crash would (`pg_ctl stop -m immediate`): every connection is cut.
    pub fn stop_immediately(&self) -> anyhow::Result<()> {
        let data = self.data();
        let args = ["stop".as_ref(), "-D".as_ref(), data.as_os_str()];
        self.run(
            "pg_ctl",
            &[&args[..], &["-m".as_ref(), "immediate".as_ref()]].concat(),
        )?;
        Ok(())
    }

    /// Starts it again (after [`Cluster::stop_immediately`]), on the same port.
    pub fn resume(&self) -> anyhow::Result<()> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections={} \
             -c shared_buffers=16MB -c fsync=off -c synchronous_commit=off",
            self.port,
            self.dir.display(),
            self.max_connections
        );
        let data = self.data();
        let log = self.dir.join("log");
        self.run(
            "pg_ctl",
            &[
                "start".as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "30".as_ref(),
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
            ],
        )?;
        Ok(())
    }

    /// How many of its backends are running a statement that begins with `command` (`SELECT`):
    /// PostgreSQL names each backend's current command in its process title, which `/proc`
    /// shows. For a test to wait until a statement has reached the database.
    pub fn backends_running(&self, command: &str) -> usize {
        let suffix = format!(" {command}");
        let titles = self.backend_titles();
        titles
            .iter()
            .filter(|title| title.ends_with(&suffix))
            .count()
    }

    /// How many clients it serves now: backends whose title names a client's address
    /// (`postgres: USER DB 127.0.0.1(<port>) idle`), not its own background processes.
    pub fn clients(&self) -> usize {
        let titles = self.backend_titles();
        titles
            .iter()
            .filter(|title| title.contains("127.0.0.1("))
            .count()
    }

    /// The process titles of the postmaster's children.
    fn backend_titles(&self) -> Vec<String> {
        let pid_file = fs::read_to_string(self.data().join("postmaster.pid")).unwrap_or_default();
        let Some(postmaster) = pid_file.lines().next().map(str::trim) else {
            return Vec::new();
        };
        let parent_of = |pid: &str| {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // The fields after the command name, in parentheses: state, then the parent's id.
            let after = stat.rsplit_once(')').map(|(_, after)| after.to_owned());
            after.and_then(|after| after.split_whitespace().nth(1).map(str::to_owned))
        };
        let processes = fs::read_dir("/proc").into_iter().flatten().flatten();
        processes
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter(|pid| parent_of(pid).as_deref() == Some(postmaster))
            .map(|pid| {
                let title = fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                title.trim_end_matches('\0').to_owned()
            })
            .collect()
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Runs one of PostgreSQL's programs, as the cluster's owner; fails with what it printed.
    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) -> anyhow::Result<Output> {
        let mut command = Command::new(self.bin.join(program));
        command.args(args).current_dir(&self.dir);
        if let Some((uid, gid)) = self.owner {
            command.uid(uid).gid(gid).env("HOME", &self.dir);
        }
        let output = command
            .output()
            .with_context(|| format!("cannot run {program}"))?;
        if !output.status.success() {
            bail!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(output)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.stop_immediately();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The port in a database URL (`postgres://USER@HOST:PORT/DB`), PostgreSQL's 5432 if none.
pub fn port_of(url: &str) -> Option<u16> {
    let rest = url.split_once("://")?.1;
    let host_port = rest.split('/').next()?.rsplit('@').next()?;
    match host_port.rsplit_once(':') {
        Some((_, port)) => port.parse().ok(),
        None => Some(5432),
    }
}

/// Stops and removes the clusters that processes now gone left behind: a process killed by
/// `SIGKILL` runs no `Drop`, and its cluster, a daemon of its own, would run on. Each cluster's
/// directory is named after the process that made it (`pgcluster-<pid>-<n>`); one whose process
/// is alive, or whose name is not ours, is left alone.
fn remove_abandoned(bin: &Path, owner: Option<(u32, u32)>) {
    let entries = fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten();
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(maker) = name
            .strip_prefix("pgcluster-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{maker}")).exists() {
            continue;
        }
        let abandoned = Cluster {
            dir: entry.path(),
            bin: bin.to_owned(),
            port: 0,
            max_connections: 0,
            owner,
        };
        // Dropping it stops it, if it runs, and removes its directory.
        drop(abandoned);
    }
}

/// The newest PostgreSQL installed the Debian way (`/usr/lib/postgresql/<version>/bin`).
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!(
            "PostgreSQL's server is not installed (no {}/<version>/bin/initdb): run scripts/setup, \
             which installs Debian's postgresql",
            root.display()
        ),
    }
}

/// As root, the `postgres` user's ids (PostgreSQL will not run as root); otherwise none.
fn owner() -> anyhow::Result<Option<(u32, u32)>> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = CString::new("postgres")?;
    // SAFETY: `name` is a valid C string; the entry returned is read at once, before any other
    // call that could overwrite it.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        bail!("running as root, and there is no postgres user to run PostgreSQL as");
    }
    // SAFETY: a non-null entry from getpwnam points to a valid passwd.
    let entry = unsafe { &*entry };
    Ok(Some((entry.pw_uid, entry.pw_gid)))
}

/// A port free on 127.0.0.1 a moment ago.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;

    #[test]
    fn a_database_url_names_its_port() {
        assert_eq!(
            port_of("postgres://postgres@127.0.0.1:5999/postgres"),
            Some(5999)
        );
        assert_eq!(port_of("postgres://u@localhost/db"), Some(5432));
        assert_eq!(port_of("postgres://u:p@h:x/db"), None);
    }

    #[test]
    fn a_cluster_listens_until_dropped_and_leaves_nothing_behind() {
        let cluster = Cluster::start(5).unwrap();
        assert!(cluster
            .url()
            .ends_with(&format!(":{}/postgres", cluster.port())));
        assert!(TcpStream::connect(("127.0.0.1", cluster.port())).is_ok());
        assert_eq!(
            cluster.backends_running("SELECT"),
            0,
            "no statement running"
        );
        cluster.stop_immediately().unwrap();
        assert!(TcpStream::connect(("127.0.0.1", cluster.port())).is_err());
        cluster.resume().unwrap();
        assert!(TcpStream::connect(("127.0.0.1", cluster.port())).is_ok());
        let (dir, port) = (cluster.dir.clone(), cluster.port());
        drop(cluster);
        assert!(!dir.exists(), "{} left behind", dir.display());
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}
