//! What a server process holds, read from `/proc` by procfs: its memory, threads, descriptors
//! and CPU time; and the machine it runs on. The tests, `compare` and the benchmark runner all
//! read these figures here, so each is read one way.

use std::time::Duration;

use procfs::process::Process;

/// This machine, as a page that prints figures says where they were measured: `2 cores, AMD
/// EPYC, Linux 6.18.44`.
pub fn machine(cores: usize) -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split(':').nth(1))
        .map_or("unknown CPU", str::trim);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cores} cores, {model}, Linux {}", kernel.trim())
}

/// Its resident memory now (`VmRSS`), in KiB; 0 if the process is gone.
pub fn rss_kib(pid: u32) -> u64 {
    status(pid).and_then(|status| status.vmrss).unwrap_or(0)
}

/// The most resident memory it has held (`VmHWM`), in KiB; 0 if the process is gone.
pub fn peak_rss_kib(pid: u32) -> u64 {
    status(pid).and_then(|status| status.vmhwm).unwrap_or(0)
}

/// Its OS threads now; 0 if the process is gone.
pub fn threads(pid: u32) -> u64 {
    status(pid).map_or(0, |status| status.threads)
}

/// Its open file descriptors now; 0 if the process is gone.
pub fn descriptors(pid: u32) -> usize {
    process(pid)
        .and_then(|process| process.fd_count().ok())
        .unwrap_or(0)
}

/// Its threads' names (`comm`, at most 15 bytes); a thread given no name has the process's.
pub fn thread_names(pid: u32) -> Vec<String> {
    let tasks = process(pid).and_then(|process| process.tasks().ok());
    tasks
        .into_iter()
        .flatten()
        .filter_map(|task| Some(task.ok()?.stat().ok()?.comm))
        .collect()
}

/// How often each of its threads has been switched off its core so far (to wait, or not), as
/// `(tid, name, count)`: a thread that wakes, if only to look at the time, counts one more.
pub fn wakeups(pid: u32) -> Vec<(i32, String, u64)> {
    let tasks = process(pid).and_then(|process| process.tasks().ok());
    tasks
        .into_iter()
        .flatten()
        .filter_map(|task| {
            let task = task.ok()?;
            let status = task.status().ok()?;
            let switches = status.voluntary_ctxt_switches? + status.nonvoluntary_ctxt_switches?;
            Some((task.tid, status.name, switches))
        })
        .collect()
}

/// Its TCP sockets connected to `port` on another process (an upstream, say), open now.
pub fn sockets_to(pid: u32, port: u16) -> usize {
    local_ports_to(pid, port).len()
}

/// The local ports of its TCP sockets connected to `port`, open now: what names each of its
/// connections in the other process (a database backend says `127.0.0.1(<port>)`).
///
/// The kernel's socket table is read before the process's descriptors: a socket counted is in
/// both, so it was open when the table was read, and sockets that close and open while the
/// descriptors are listed are not counted twice over.
pub fn local_ports_to(pid: u32, port: u16) -> Vec<u16> {
    let ipv4 = procfs::net::tcp().unwrap_or_default();
    let ipv6 = procfs::net::tcp6().unwrap_or_default();
    let connected: std::collections::HashMap<u64, u16> = ipv4
        .into_iter()
        .chain(ipv6)
        .filter(|entry| entry.remote_address.port() == port && entry.inode != 0)
        .map(|entry| (entry.inode, entry.local_address.port()))
        .collect();
    let Some(process) = process(pid) else {
        return Vec::new();
    };
    let descriptors = process.fd().into_iter().flatten().flatten();
    descriptors
        .filter_map(|fd| match fd.target {
            procfs::process::FDTarget::Socket(inode) => connected.get(&inode).copied(),
            _ => None,
        })
        .collect()
}

/// The PostgreSQL backends on this machine serving the connections whose client ports are
/// `client_ports` (a process's, from [`local_ports_to`]): each backend's process title names
/// its client (`postgres: USER DB 127.0.0.1(<port>) idle`). Only backends this process may read
/// are found.
pub fn backends_serving(client_ports: &[u16]) -> Vec<u32> {
    if client_ports.is_empty() {
        return Vec::new();
    }
    let clients: std::collections::HashSet<String> = client_ports
        .iter()
        .map(|port| format!("({port})"))
        .collect();
    let processes = procfs::process::all_processes()
        .into_iter()
        .flatten()
        .flatten();
    processes
        .filter(|process| {
            let title = process.cmdline().unwrap_or_default().join(" ");
            title.starts_with("postgres: ")
                && title.split_whitespace().any(|word| {
                    word.find('(')
                        .is_some_and(|at| clients.contains(&word[at..]))
                })
        })
        .map(|process| process.pid as u32)
        .collect()
}

/// Its proportional set size (`Pss` of `smaps_rollup`), in KiB: its private memory and its share
/// of memory mapped by several processes (a database's shared buffers, say), so that the figures
/// of several processes add up; 0 if the process is gone or not readable.
pub fn pss_kib(pid: u32) -> u64 {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let pss = rollup.lines().find_map(|line| line.strip_prefix("Pss:"));
    pss.and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The machine's CPU time so far, all cores together, in ticks: how much of it the hypervisor
/// gave to someone else (`steal`), and all of it. On a virtual machine a neighbour's load shows
/// up as stolen time, and a measurement taken while much was stolen ran on a slower machine than
/// the one beside it.
#[derive(Clone, Copy, Debug)]
pub struct MachineTime {
    stolen: u64,
    total: u64,
}

impl MachineTime {
    /// Read from `/proc/stat`; zeros where it cannot be read.
    pub fn now() -> MachineTime {
        use procfs::CurrentSI;
        let Ok(stats) = procfs::KernelStats::current() else {
            return MachineTime {
                stolen: 0,
                total: 0,
            };
        };
        let cpu = stats.total;
        let optional = [cpu.iowait, cpu.irq, cpu.softirq, cpu.steal];
        let counted = cpu.user + cpu.nice + cpu.system + cpu.idle;
        MachineTime {
            stolen: cpu.steal.unwrap_or(0),
            total: counted + optional.iter().flatten().sum::<u64>(),
        }
    }

    /// The share of the machine's CPU time since this reading that the hypervisor stole.
    pub fn stolen_since(self) -> f64 {
        let now = MachineTime::now();
        let stolen = now.stolen.saturating_sub(self.stolen);
        stolen as f64 / now.total.saturating_sub(self.total).max(1) as f64
    }
}

/// The CPU time it has used, user and system; zero if the process is gone.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = process(pid).and_then(|process| process.stat().ok());
    stat.map_or(Duration::ZERO, |stat| ticks(stat.utime + stat.stime))
}

/// The CPU time its thread `tid` has used, user and system; zero if the thread is gone.
pub fn thread_cpu_time(pid: u32, tid: u64) -> Duration {
    let task = process(pid).and_then(|process| process.task_from_tid(tid as i32).ok());
    let stat = task.and_then(|task| task.stat().ok());
    stat.map_or(Duration::ZERO, |stat| ticks(stat.utime + stat.stime))
}

/// Its soft limit on open files (`Max open files`), if it has one.
pub fn open_files_limit(pid: u32) -> Option<u64> {
    let limits = process(pid)?.limits().ok()?;
    match limits.max_open_files.soft_limit {
        procfs::process::LimitValue::Value(files) => Some(files),
        procfs::process::LimitValue::Unlimited => None,
    }
}

fn process(pid: u32) -> Option<Process> {
    Process::new(pid as i32).ok()
}

fn status(pid: u32) -> Option<procfs::process::Status> {
    process(pid)?.status().ok()
}

/// A count of clock ticks as a duration.
fn ticks(count: u64) -> Duration {
    let per_second = procfs::ticks_per_second().max(1);
    Duration::from_micros(count * 1_000_000 / per_second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_read() {
        let me = std::process::id();
        let now = rss_kib(me);
        assert!(now > 0);
        assert!(
            peak_rss_kib(me) >= now,
            "the peak, read after, is at least that"
        );
        assert!(threads(me) >= 1);
        assert!(descriptors(me) >= 3);
        let tid = std::fs::read_link("/proc/thread-self").unwrap();
        let tid: u64 = tid.file_name().unwrap().to_str().unwrap().parse().unwrap();
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(100) {}
        assert!(thread_cpu_time(me, tid) >= Duration::from_millis(50));
        assert!(cpu_time(me) >= Duration::from_millis(50));
        assert_eq!(rss_kib(u32::MAX), 0, "no such process");
    }

    #[test]
    fn the_machines_time_is_read_and_grows() {
        let before = MachineTime::now();
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(100) {}
        let after = MachineTime::now();
        assert!(
            after.total > before.total,
            "100 ms of this core's time is counted"
        );
        assert!(after.stolen >= before.stolen && after.stolen <= after.total);
        let stolen = before.stolen_since();
        assert!((0.0..=1.0).contains(&stolen), "a share: {stolen}");
    }
}
