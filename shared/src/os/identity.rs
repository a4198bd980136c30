//! Who is answering: the process id and the native OS thread id.
//!
//! The thread id is the kernel's (`gettid` on Linux, the number under `/proc/<pid>/task/`), the
//! one Python's `threading.get_native_id()` prints in the original experiment. It is neither
//! `std::thread::ThreadId` nor `pthread_self`.

/// The process and the OS thread running the current code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    pub pid: u32,
    pub tid: u64,
}

thread_local! {
    // Both ids are fixed for the life of a thread, so each thread asks the kernel once.
    static CURRENT: Identity = Identity {
        pid: std::process::id(),
        tid: gettid::gettid(),
    };
}

impl Identity {
    /// The process and thread this is called on.
    pub fn current() -> Identity {
        CURRENT.with(|identity| *identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_thread_has_its_own_native_id_in_the_same_process() {
        let here = Identity::current();
        let there = std::thread::spawn(Identity::current).join().unwrap();
        assert_eq!(here.pid, there.pid);
        assert_ne!(here.tid, there.tid);
        assert_eq!(here, Identity::current(), "stable within a thread");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_thread_id_is_the_kernels() {
        let me = Identity::current();
        assert_eq!(me.pid, std::process::id());
        let task = format!("/proc/{}/task/{}", me.pid, me.tid);
        assert!(std::path::Path::new(&task).exists(), "{task} missing");
        // /proc/thread-self links to this very thread's task directory.
        let link = std::fs::read_link("/proc/thread-self").unwrap();
        assert!(link.ends_with(format!("task/{}", me.tid)), "{link:?}");
    }
}
