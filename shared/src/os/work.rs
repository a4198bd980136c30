//! The CPU-bound work of `/compute`, measured in the CPU time of the thread that does it.
//!
//! A loop that watched the wall clock would hide what this route is for: two such loops on one
//! core would both finish on time, each having had half the core. Measured in the thread's own
//! CPU clock, `/compute?seconds=1` is a second of computation wherever it runs, so four of them on
//! two cores take two seconds of wall time, however many threads or tasks they are spread over.

use std::hint::black_box;
use std::time::Duration;

/// How many steps of the computation run between two looks at the clock (a few tens of
/// microseconds: the clock is a system call, the step a few instructions).
const STEPS_BETWEEN_LOOKS: u32 = 50_000;

/// Computes on the calling thread until that thread has used `cpu` of CPU time; returns what it
/// computed (a number with no meaning, so that the work cannot be left out).
pub fn compute(cpu: Duration) -> u64 {
    let start = thread_cpu_time();
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    loop {
        for _ in 0..STEPS_BETWEEN_LOOKS {
            // xorshift64: cheap, and each step depends on the last.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
        }
        state = black_box(state);
        if thread_cpu_time().saturating_sub(start) >= cpu {
            return state;
        }
    }
}

/// The CPU time the calling thread has used (its own clock, `CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write to; this clock exists on every Linux.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "the thread's CPU clock cannot be read");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn compute_uses_the_cpu_time_asked_for() {
        let before = thread_cpu_time();
        let started = Instant::now();
        compute(Duration::from_millis(200));
        let used = thread_cpu_time() - before;
        assert!(used >= Duration::from_millis(200), "{used:?}");
        assert!(used < Duration::from_millis(400), "{used:?}");
        // Used, not waited: on an idle core the wall time is about the CPU time; never less.
        assert!(started.elapsed() >= used);
    }

    #[test]
    fn each_thread_has_its_own_cpu_clock() {
        let here = thread_cpu_time();
        let there = std::thread::spawn(|| {
            compute(Duration::from_millis(50));
            thread_cpu_time()
        });
        assert!(there.join().unwrap() >= Duration::from_millis(50));
        assert!(thread_cpu_time() - here < Duration::from_millis(50));
    }
}
