//! The request log of the runtime thread, written out whenever that thread is about to wait.
//!
//! A handler's lines gather in a thread-local [`LogBuffer`]. tokio calls [`write_out`] just
//! before the runtime parks its thread, which is the moment the server starts waiting for
//! anything (a timer, a socket, a signal). While it stays busy, lines go out in batches.

use std::cell::RefCell;
use std::io;

use shared::LogBuffer;

thread_local! {
    static LOG: RefCell<LogBuffer> = RefCell::new(LogBuffer::new());
}

/// Adds lines to this thread's log; writes it out at once if it has filled up.
pub fn lines(add: impl FnOnce(&mut LogBuffer)) {
    LOG.with_borrow_mut(|log| {
        add(log);
        if log.is_full() {
            let _ = log.write_to(&mut io::stdout().lock());
        }
    });
}

/// Writes out this thread's gathered lines.
pub fn write_out() {
    // A closed stdout must not stop the server.
    LOG.with_borrow_mut(|log| log.write_to(&mut io::stdout().lock()).ok());
}
