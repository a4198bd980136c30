//! Clients no one here wrote (ApacheBench, h2load, curl, wget, Python), each completing without a stall.

use std::time::{Duration, Instant};

use crate::Server;

/// Runs `program` with `args` (one of the clients `scripts/setup` installs), which must succeed
/// within a few seconds; returns its stdout.
fn client(program: &str, args: &[&str]) -> String {
    let started = Instant::now();
    let output = std::process::Command::new("timeout")
        .arg("20")
        .arg(program)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {program} ({error}): run scripts/setup first"));
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{program} {args:?} failed after {took:?}: {}{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        took < Duration::from_secs(5),
        "{program} {args:?} stalled: {took:?}"
    );
    stdout
}

/// ApacheBench with and without keep-alive (HTTP/1.0), h2load pipelining HTTP/1.1, curl with
/// HTTP/1.0, wget, and Python's `http.client` with many requests on one connection: each gets
/// every answer, and none waits on a connection the server neither uses nor closes.
pub fn http_clients_no_one_here_wrote_complete_without_a_stall(binary: &str) {
    let server = Server::start(binary, &[]);
    let url = format!("{}/nosleep", server.target().url);
    for keep_alive in [&["-k"][..], &[]] {
        let args = [keep_alive, &["-n", "400", "-c", "4", &url]].concat();
        let report = client("ab", &args);
        assert!(report.contains("Complete requests:      400"), "{report}");
        assert!(report.contains("Failed requests:        0"), "{report}");
        if !keep_alive.is_empty() {
            assert!(report.contains("Keep-Alive requests:    400"), "{report}");
        }
    }
    let report = client(
        "h2load",
        &["--h1", "-n", "400", "-c", "4", "-m", "10", &url],
    );
    assert!(report.contains("400 succeeded, 0 failed"), "{report}");
    assert_eq!(client("curl", &["-s", "--http1.0", &url]), "no sleep");
    assert_eq!(client("wget", &["-q", "-O", "-", &url]), "no sleep");
    let script = "import http.client, sys\n\
        c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=5)\n\
        for _ in range(50):\n    c.request('GET', '/nosleep'); r = c.getresponse(); assert r.read() == b'no sleep'\n\
        print('ok')";
    let (host, port) = (
        server.addr().ip().to_string(),
        server.addr().port().to_string(),
    );
    assert_eq!(
        client("python3", &["-c", script, &host, &port]).trim(),
        "ok"
    );
}

/// ApacheBench with keep-alive (HTTP/1.0) and eight connections at once, against a server
/// started a moment before: every one of its 2,000 requests is answered, none of them late. (A
/// pool that queues a new connection behind busy threads leaves its requests unanswered until a
/// kept connection times out: here, with `--header-timeout 3`, for 3 s.) Three fresh servers, one
/// with four handler threads where the server has them.
pub fn a_fresh_server_answers_a_keep_alive_burst_without_a_stall(binary: &str) {
    let name = std::path::Path::new(binary).file_name();
    let threads: &[&str] = if name.is_some_and(|name| name == "sync-server") {
        &["--threads", "4"]
    } else {
        &["--workers", "1"]
    };
    for extra in [&[][..], &[], threads] {
        let server = Server::start(binary, &[&["--header-timeout", "3"][..], extra].concat());
        let url = format!("{}/nosleep", server.target().url);
        let report = client("ab", &["-k", "-n", "2000", "-c", "8", "-s", "10", &url]);
        assert!(report.contains("Complete requests:      2000"), "{report}");
        assert!(report.contains("Failed requests:        0"), "{report}");
        assert!(report.contains("Keep-Alive requests:    2000"), "{report}");
        let longest = report
            .lines()
            .find_map(|line| line.trim().strip_prefix("100%"))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no longest request in {report}"));
        assert!(longest < 1500, "a request waited {longest} ms: {report}");
    }
}
