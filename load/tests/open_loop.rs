//! `load` is open loop: it keeps sending on schedule while the server stalls, and the stall shows
//! in the latency of every request that fell due during it. A closed-loop client (one that waits
//! for an answer before it sends again) would send nothing during the stall and show no queue.

use std::fs;
use std::thread;
use std::time::Duration;

use testkit::Server;

const LOAD: &str = env!("CARGO_BIN_EXE_load");

/// One line of `--requests`: due, sent and done in µs, and the status.
struct Line {
    due: u64,
    sent: u64,
    done: u64,
    status: String,
}

fn lines(path: &std::path::Path) -> Vec<Line> {
    let text = fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            Line {
                due: f[0].parse().unwrap(),
                sent: f[1].parse().unwrap(),
                done: f[2].parse().unwrap(),
                status: f[4].to_owned(),
            }
        })
        .collect()
}

#[test]
fn requests_keep_starting_on_time_through_a_stall_and_the_stall_shows_in_their_latency() {
    // sync-server with one handler thread stalls for a second while a /sleep of 1 s runs.
    let binary = testkit::workspace_binary("sync-server");
    let server = Server::start(binary.to_str().unwrap(), &[]);
    let dir = std::env::temp_dir().join(format!("load-test-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let requests = dir.join("requests.tsv");
    let url = format!("http://{}", server.addr());
    let run = thread::spawn({
        let requests = requests.clone();
        move || {
            testkit::run(
                LOAD,
                &[
                    &url,
                    "--rate",
                    "100",
                    "--duration",
                    "3",
                    "--mix",
                    "/nosleep",
                    "--arrivals",
                    "even",
                    "--requests",
                    requests.to_str().unwrap(),
                ],
            )
        }
    });
    // Mid-run, the stall: the server's one thread sleeps for a second.
    server.wait_for_stdout(|line| line.starts_with("START") && line.contains("/nosleep"));
    thread::sleep(Duration::from_millis(800));
    let stall = server.get("/sleep?seconds=1");
    assert_eq!(stall.status, 200);
    let output = run.join().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");

    let lines = lines(&requests);
    assert!(
        (299..=300).contains(&lines.len()),
        "100/s for 3 s, evenly: {stdout}"
    );
    assert!(lines.iter().all(|l| l.status == "200"), "{stdout}");
    // On time through the stall: a client that waited for each answer before sending the next
    // would be up to the stall's second late; these start within a twentieth of it (a debug
    // build here has long met 5 ms, but a shared machine's stolen time has made it 5.8).
    let mut lateness: Vec<u64> = lines.iter().map(|l| l.sent - l.due).collect();
    lateness.sort_unstable();
    let p99 = lateness[lateness.len() * 99 / 100];
    assert!(p99 < 50_000, "lateness p99 {p99} µs");
    // The stall in the latency: the requests held up (latency over 300 ms) are about one
    // second's worth, each sent on time, and all answered at about the same moment, the end of
    // the stall, so that the earliest due waited longest.
    let held: Vec<&Line> = lines.iter().filter(|l| l.done - l.due > 300_000).collect();
    assert!(
        (70..=110).contains(&held.len()),
        "{} held up: {stdout}",
        held.len()
    );
    let first_done = held.iter().map(|l| l.done).min().unwrap();
    let last_done = held.iter().map(|l| l.done).max().unwrap();
    assert!(
        last_done - first_done < 200_000,
        "answered over {} µs",
        last_done - first_done
    );
    let earliest = held.iter().min_by_key(|l| l.due).unwrap();
    assert!(
        earliest.done - earliest.due > 800_000,
        "the first held up waited most of the stall"
    );
    let _ = fs::remove_dir_all(&dir);
}
