//! Each handler thread's log lines, gathered and written to stdout.
//!
//! Each thread that runs handlers has a [`LogBuffer`] of its own, so no lock is taken per line.
//! A server adds lines with [`gather`] and calls [`flush`] before its thread waits for anything
//! (a sleep, a query, the next request), so that a person watching the terminal sees each line
//! before the wait it announces.

use std::cell::RefCell;
use std::io;

use crate::LogBuffer;

thread_local! {
    static LOG: RefCell<LogBuffer> = RefCell::new(LogBuffer::new());
}

/// Adds lines to this thread's log; writes it out at once if it has filled up.
pub fn gather(add: impl FnOnce(&mut LogBuffer)) {
    LOG.with_borrow_mut(|log| {
        add(log);
        if log.is_full() {
            let _ = log.write_to(&mut io::stdout().lock());
        }
    });
}

/// Writes out this thread's gathered lines: the server calls it before it waits for anything.
pub fn flush() {
    // A closed stdout must not stop the server.
    LOG.with_borrow_mut(|log| log.write_to(&mut io::stdout().lock()).ok());
}
