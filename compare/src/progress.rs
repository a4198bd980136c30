//! Showing how far a scenario has got, while it runs, to a person watching the terminal.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Runs `work`, showing how far it has got while it runs, if a person is watching.
pub fn with_progress<T: Send>(
    label: &str,
    total: usize,
    answered: &AtomicUsize,
    work: impl FnOnce() -> T + Send,
) -> T {
    let watched = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    let started = Instant::now();
    thread::scope(|scope| {
        let running = scope.spawn(work);
        while watched && !running.is_finished() {
            eprint!(
                "\r{label}: {:.1} s, {} of {total} requests answered ",
                started.elapsed().as_secs_f64(),
                answered.load(Ordering::Relaxed)
            );
            let _ = std::io::stderr().flush();
            thread::sleep(Duration::from_millis(100));
        }
        if watched {
            eprint!("\r\x1b[K");
        }
        running.join().expect("the scenario thread panicked")
    })
}
