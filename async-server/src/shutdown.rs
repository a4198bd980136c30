//! `SIGINT` (Ctrl-C) and `SIGTERM`, heard by the first worker and passed on to every worker.
//!
//! The policy (stop accepting, finish for at most the grace period, a second signal exits 130)
//! is [`shared::Shutdown`]'s; this module only hears the signals and tells the workers.

use std::io;

use shared::{Shutdown, Signal};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// Tells every worker to stop accepting.
pub struct Stop(watch::Sender<bool>);

/// A worker's end of [`Stop`].
#[derive(Clone)]
pub struct Stopped(watch::Receiver<bool>);

pub fn channel() -> (Stop, Stopped) {
    let (stop, stopped) = watch::channel(false);
    (Stop(stop), Stopped(stopped))
}

impl Stopped {
    /// Returns once the workers are told to stop.
    pub async fn wait(&mut self) {
        // The sender gone means the process is ending: that is a stop too.
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// Installs the handlers now (so that a signal sent as soon as the `listening on` line is out is
/// caught) and, on this thread's runtime, tells the workers to stop at the first signal.
pub fn on_signal(shutdown: &'static Shutdown, stop: Stop) -> io::Result<()> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            if shutdown.signalled() == Signal::Again {
                eprintln!("async-server: second signal: exiting now");
                std::process::exit(Signal::EXIT_AGAIN);
            }
            let _ = stop.0.send(true);
        }
    });
    Ok(())
}
