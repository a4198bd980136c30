//! The operating system's limits on threads, said in one line when one stops the server.

use std::io;

/// The error for handler thread `number` of `wanted` that the system would not start.
pub fn no_more_threads(number: usize, wanted: usize, error: io::Error) -> anyhow::Error {
    let per_user = limit(libc::RLIMIT_NPROC).map_or("unknown".to_owned(), |n| n.to_string());
    let system = std::fs::read_to_string("/proc/sys/kernel/threads-max")
        .map_or("unknown".to_owned(), |text| text.trim().to_owned());
    anyhow::anyhow!(
        "cannot start handler thread {} of {wanted}: {error}; the limits are {per_user} \
         processes and threads per user (ulimit -u), {system} threads in the system \
         (kernel.threads-max), and address space for each thread's stack ({} KiB)",
        number + 1,
        crate::server::HANDLER_STACK / 1024
    )
}

/// A resource's soft limit, if it has one.
fn limit(resource: libc::__rlimit_resource_t) -> Option<u64> {
    let mut value = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `value` is a valid rlimit to write to.
    let status = unsafe { libc::getrlimit(resource, &mut value) };
    (status == 0 && value.rlim_cur != libc::RLIM_INFINITY).then_some(value.rlim_cur)
}
