//! `SIGINT` (Ctrl-C) and `SIGTERM`, heard on a thread of `ctrlc`'s and passed on to the
//! handler threads.
//!
//! The policy (stop accepting, finish for at most the grace period, a second signal exits 130)
//! is [`shared::Shutdown`]'s; this module only hears the signals, shuts the listening socket and
//! wakes the handler threads, which then answer what tiny_http has already received.

use std::io;

use shared::Signal;

use crate::app::App;

/// Installs the handler: at the first signal, new connections are refused and the waiting
/// handler threads are woken.
pub fn on_signal(app: &'static App) -> io::Result<()> {
    ctrlc::set_handler(move || {
        if app.shutdown.signalled() == Signal::Again {
            eprintln!("sync-server: second signal: exiting now");
            std::process::exit(Signal::EXIT_AGAIN);
        }
        app.tiny_http.stop();
        app.shutdown.announce("sync-server");
    })
    .map_err(io::Error::other)
}
