//! What an idle server does: nothing. No timer wakes it and it makes no connection, however long
//! it stays idle, also past `--header-timeout`.

use std::thread;
use std::time::Duration;

use crate::Server;

/// How long the server is watched once idle: past two of its header timeouts.
const WATCHED: Duration = Duration::from_millis(2500);

/// After one client came and went (and the time it may take for every thread to settle), no
/// thread of the server wakes for as long as it is watched.
pub fn an_idle_server_wakes_for_nothing(binary: &str) {
    let server = Server::start(binary, &["--header-timeout", "1"]);
    assert_eq!(server.get("/nosleep").status, 200);
    server.wait_for_stdout(|line| line.starts_with("DONE"));
    // The connection closes after the header timeout, and the threads that served it settle.
    thread::sleep(Duration::from_millis(1500));
    let before = probe::process::wakeups(server.pid());
    thread::sleep(WATCHED);
    let after = probe::process::wakeups(server.pid());
    let woke: Vec<String> = after
        .iter()
        .filter(|thread| !before.contains(thread))
        .map(|(tid, name, switches)| format!("{name} {tid} ({switches})"))
        .collect();
    assert!(
        woke.is_empty(),
        "idle for {WATCHED:?}, these threads woke (or began): {woke:?}; before: {before:?}"
    );
}
