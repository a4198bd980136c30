//! `SIGINT` (Ctrl-C) and `SIGTERM`, heard as a future that `main` hands to the server, and the
//! channel that passes the stop on to every worker.
//!
//! The policy (stop accepting, finish for at most the grace period, a second signal exits 130)
//! is [`shared::Shutdown`]'s; this module only hears the signals and tells the workers.

use std::future::Future;
use std::io;

use shared::{Shutdown, Signal};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// Listens for the signals from now on (so that one sent as soon as the `listening on` line is
/// out is caught), and returns what completes at the first: the shutdown begins then. A second
/// signal, while shutting down, exits at once. Called on a runtime's thread.
pub fn signalled(shutdown: &'static Shutdown) -> io::Result<impl Future<Output = ()>> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        shutdown.signalled();
        tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            eprintln!("async-server: second signal: exiting now");
            std::process::exit(Signal::EXIT_AGAIN);
        });
    })
}

/// Tells every worker to stop accepting.
pub struct Stop(watch::Sender<bool>);

/// A worker's end of [`Stop`].
#[derive(Clone)]
pub struct Stopped(watch::Receiver<bool>);

pub fn channel() -> (Stop, Stopped) {
    let (stop, stopped) = watch::channel(false);
    (Stop(stop), Stopped(stopped))
}

impl Stop {
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
}

impl Stopped {
    /// Returns once the workers are told to stop.
    pub async fn wait(&mut self) {
        // The sender gone means the process is ending: that is a stop too.
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}
