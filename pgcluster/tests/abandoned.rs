//! A cluster whose maker was killed outright (`SIGKILL`, no `Drop`) runs on as a daemon of its
//! own; the next cluster made on this machine stops and removes it.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn a_cluster_abandoned_by_a_killed_process_is_removed_by_the_next() {
    let mut maker = Command::new(env!("CARGO_BIN_EXE_pgcluster"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(maker.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let port = pgcluster::port_of(url.trim()).unwrap();
    let dir = std::env::temp_dir().join(format!("pgcluster-{}-0", maker.id()));
    maker.kill().unwrap();
    maker.wait().unwrap();
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "abandoned, it still runs"
    );
    assert!(dir.exists(), "{} is left", dir.display());

    let next = pgcluster::Cluster::start(5).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_ok() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the abandoned cluster still runs"
    );
    assert!(!dir.exists(), "{} is still there", dir.display());
    drop(next);
}
