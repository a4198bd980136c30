//! The checks of the interface (docs/interface.md) that hold for both servers alike, each a function of the binary.
//!
//! What differs between the servers (whether a `/sleep` holds the others up) is measured by
//! [`nosleep_during`] and [`sleeps_sent_together`], and judged in each server's own tests.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crate::wire::AnswerHead;
use crate::{all_at_once, run, start_ids, Reply, Server};

/// Generates one `#[test]` per contract check for the server binary `$binary`.
#[macro_export]
macro_rules! contract_tests {
    ($binary:expr) => {
        $crate::contract_tests!(@each $binary;
            routes_answer_as_the_contract_says,
            sleep_flags_set_the_default_and_the_maximum,
            bad_seconds_are_refused_at_once,
            unknown_paths_are_404,
            other_methods_are_405_with_allow,
            head_is_get_without_a_body,
            answers_on_one_connection_are_framed_one_after_another,
            connection_headers_say_whether_the_connection_stays_open,
            compute_uses_the_handler_threads_cpu_and_holds_it,
            http_clients_no_one_here_wrote_complete_without_a_stall,
            a_fresh_server_answers_a_keep_alive_burst_without_a_stall,
            answers_name_the_process_and_the_handler_thread,
            every_request_is_logged_as_it_happens,
            malformed_requests_get_a_4xx_and_the_server_keeps_serving,
            bad_flags_exit_2_with_one_line,
            help_and_version_work,
            a_port_in_use_is_one_clear_line,
            sigterm_during_a_sleep_still_answers_it_then_exits_0,
            sigint_exits_0,
            the_index_page_offers_the_experiment_and_answers_are_never_cached,
            cors_lets_loopback_pages_read_answers_and_no_other,
            an_origin_is_echoed_only_when_it_is_a_whole_loopback_origin,
            shutdown_waits_for_a_stalled_client_no_longer_than_the_grace_period,
        );
    };
    (@each $binary:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                $crate::contract::$check($binary)
            }
        )*
    };
}

const CONTENT_TYPE: &str = "text/plain; charset=utf-8";

fn assert_plain_text(reply: &Reply) {
    assert_eq!(
        reply.header("Content-Type"),
        Some(CONTENT_TYPE),
        "{reply:?}"
    );
}

pub fn routes_answer_as_the_contract_says(binary: &str) {
    let server = Server::start(binary, &[]);
    for (target, body) in [
        ("/nosleep", "no sleep"),
        ("/nosleep/", "no sleep"),
        ("/sleep?seconds=0", "sleep"),
        ("/sleep/?seconds=0", "sleep"),
        ("/sleep?seconds=0.05", "sleep"),
    ] {
        let reply = server.get(target);
        assert_eq!((reply.status, reply.body.as_str()), (200, body), "{target}");
        assert_plain_text(&reply);
        assert_eq!(reply.pid(), Some(server.pid()), "{target}");
    }
}

pub fn sleep_flags_set_the_default_and_the_maximum(binary: &str) {
    let server = Server::start(binary, &["--sleep", "0.3", "--max-sleep", "0.5"]);
    let plain = server.get("/sleep");
    assert_eq!(plain.status, 200);
    // The --sleep asked for, not the 5 s default.
    assert!(plain.latency() >= Duration::from_millis(300), "{plain:?}");
    assert!(plain.latency() < Duration::from_millis(1500), "{plain:?}");
    let over = server.get("/sleep?seconds=0.6");
    assert_eq!(over.status, 400);
    assert!(over.body.contains("maximum of 0.5"), "{:?}", over.body);
}

pub fn bad_seconds_are_refused_at_once(binary: &str) {
    let server = Server::start(binary, &[]); // a plain /sleep would take 5 s
    for (value, says) in [
        ("abc", "not a number"),
        ("", "not a number"),
        ("-1", "negative"),
        ("61", "above the maximum of 60"),
        ("inf", "not finite"),
        ("NaN", "not finite"),
        ("1e999", "not finite"),
        ("%zz", "percent-encoding"),
    ] {
        let reply = server.get(&format!("/sleep?seconds={value}"));
        assert_eq!(reply.status, 400, "{value:?}");
        assert_plain_text(&reply);
        assert!(reply.body.contains(says), "{value:?}: {:?}", reply.body);
        assert!(reply.body.contains("from 0 to 60"), "{:?}", reply.body);
        assert_eq!(reply.body.trim_end().lines().count(), 1, "{:?}", reply.body);
        assert!(reply.latency() < Duration::from_secs(1), "{value:?} waited");
    }
}

pub fn unknown_paths_are_404(binary: &str) {
    let server = Server::start(binary, &[]);
    for target in [
        "/nope",
        "/sleep/x",
        "/SLEEP",
        "/nosleep//",
        "/sleepy?seconds=1",
    ] {
        let reply = server.get(target);
        assert_eq!(reply.status, 404, "{target}");
        assert_plain_text(&reply);
    }
    assert_eq!(server.request("POST", "/nope").status, 404);
}

pub fn other_methods_are_405_with_allow(binary: &str) {
    let server = Server::start(binary, &[]);
    for method in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"] {
        for target in ["/sleep", "/nosleep/"] {
            let reply = server.request(method, target);
            assert_eq!(reply.status, 405, "{method} {target}");
            assert_eq!(
                reply.header("Allow"),
                Some("GET, HEAD"),
                "{method} {target}"
            );
            assert_plain_text(&reply);
        }
    }
}

pub fn head_is_get_without_a_body(binary: &str) {
    let server = Server::start(binary, &[]);
    for target in ["/nosleep", "/sleep?seconds=0", "/sleep?seconds=x", "/nope"] {
        let get = server.get(target);
        let head = server.request("HEAD", target);
        assert_eq!(head.status, get.status, "{target}");
        assert_eq!(head.body, "", "{target}: HEAD has no body");
        for name in ["Content-Type", "Content-Length", "X-Pid", "X-Tid"] {
            assert_eq!(head.header(name), get.header(name), "{target}: {name}");
        }
    }
}

/// Requests sent together on one connection get their answers in order, each framed so that
/// the next can be found: a `Date`, and a `Content-Length` equal to the body sent, except for a
/// `HEAD` (the length, no body) and a `204` (neither).
pub fn answers_on_one_connection_are_framed_one_after_another(binary: &str) {
    let server = Server::start(binary, &[]);
    let asked = [
        ("GET", "/nosleep", 200),
        ("HEAD", "/sleep?seconds=0", 200),
        ("GET", "/favicon.ico", 204),
        ("GET", "/nope", 404),
        ("GET", "/", 200), // the page: larger than a write buffer
        ("GET", "/sleep?seconds=0", 200),
    ];
    let mut raw = String::new();
    for (at, (method, target, _)) in asked.iter().enumerate() {
        let last = if at + 1 == asked.len() {
            "Connection: close\r\n"
        } else {
            ""
        };
        raw += &format!("{method} {target} HTTP/1.1\r\nHost: test\r\n{last}\r\n");
    }
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut stream, &mut bytes).expect("the server closes after the last");

    let mut rest = &bytes[..];
    for (method, target, status) in asked {
        let (head, length) = crate::wire::head(rest)
            .unwrap_or_else(|| panic!("{method} {target}: no answer head in {rest:?}"));
        rest = &rest[length..];
        assert!(
            head.text.starts_with(&format!("HTTP/1.1 {status} ")),
            "{method} {target}: {}",
            head.text
        );
        assert!(
            head.field("Date").is_some(),
            "{method} {target}: no Date in {}",
            head.text
        );
        let length = head.content_length();
        if status == 204 {
            assert_eq!(
                length, None,
                "{method} {target}: a 204 has no Content-Length"
            );
            continue;
        }
        let length = length.unwrap_or_else(|| panic!("{method} {target}: no Content-Length"));
        assert!(length > 0, "{method} {target}");
        if method == "GET" {
            assert!(rest.len() >= length, "{method} {target}: body cut short");
            rest = &rest[length..];
        }
    }
    assert!(rest.is_empty(), "bytes after the last answer: {rest:?}");
}

/// `/compute?seconds=S` works on the thread that runs the handler until that thread has used S
/// seconds of CPU time (read by the kernel's count, not the server's), and a `/nosleep` sent
/// meanwhile waits for it: on either server, computing holds its thread.
pub fn compute_uses_the_handler_threads_cpu_and_holds_it(binary: &str) {
    let server = Server::start(binary, &[]);
    let handler = server.get("/nosleep").tid().unwrap();
    let before = probe::process::thread_cpu_time(server.pid(), handler);
    let (compute, nosleep) = nosleep_during(&server, "/compute?seconds=0.5");
    assert_eq!((compute.status, compute.body.as_str()), (200, "compute"));
    assert_eq!(compute.tid(), Some(handler));
    let used = probe::process::thread_cpu_time(server.pid(), handler) - before;
    assert!(
        used >= Duration::from_millis(450) && used < Duration::from_millis(1500),
        "the handler thread used {used:?} of CPU for 0.5 s of work"
    );
    assert!(
        nosleep.answered_at >= compute.answered_at - Duration::from_millis(50),
        "a /nosleep was answered {:?} before a /compute it was sent during",
        compute.answered_at - nosleep.answered_at
    );
    let refused = server.get("/compute?seconds=-1");
    assert_eq!(refused.status, 400);
}

/// Sends `request` on `stream` and reads one answer; returns its head and whether the server
/// closed the connection after that answer.
pub(crate) fn exchange(stream: &mut TcpStream, request: &str) -> (AnswerHead, bool) {
    stream.write_all(request.as_bytes()).unwrap();
    let (head, _, closed) = crate::wire::read_answer_seeing_close(stream);
    (head, closed)
}

/// HTTP/1.1 keeps a connection open unless the request says `close`; HTTP/1.0 closes it unless
/// the request says `keep-alive`. An answer says `Connection: keep-alive` where HTTP/1.0 needs it
/// and `Connection: close` before the server closes. (ApacheBench's `-k` waits for the first.)
pub fn connection_headers_say_whether_the_connection_stays_open(binary: &str) {
    let server = Server::start(binary, &[]);
    let connect = || {
        let stream = TcpStream::connect(server.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    };
    for (version, connection, kept, says) in [
        ("1.1", "", true, None),
        ("1.1", "Connection: keep-alive\r\n", true, None),
        ("1.1", "Connection: close\r\n", false, Some("close")),
        ("1.1", "Connection: Close\r\n", false, Some("close")),
        ("1.0", "", false, Some("close")),
        ("1.0", "Connection: close\r\n", false, Some("close")),
        (
            "1.0",
            "Connection: Keep-Alive\r\n",
            true,
            Some("keep-alive"),
        ),
    ] {
        let request = format!("GET /nosleep HTTP/{version}\r\nHost: test\r\n{connection}\r\n");
        let mut stream = connect();
        let (head, closed) = exchange(&mut stream, &request);
        let case = format!("HTTP/{version} {connection:?}");
        let shown = &head.text;
        assert_eq!(closed, !kept, "{case}: closed after the answer? {shown}");
        let field = head.field("connection");
        match says {
            Some(value) => assert_eq!(field.as_deref(), Some(value), "{case}: {shown}"),
            None => assert!(field.as_deref() != Some("close"), "{case}: {shown}"),
        }
        if kept {
            let (again, _) = exchange(&mut stream, &request);
            assert_eq!(
                again.status, 200,
                "{case}: a second request: {}",
                again.text
            );
        }
    }
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

/// An `Origin` is echoed in `Access-Control-Allow-Origin` only when the whole of it is a loopback
/// origin: one with a bare line feed and a header after it adds no header to the answer (tiny_http
/// keeps the line feed in the value, so the value is not an origin; httparse ends the line there,
/// so the origin before it may be echoed), and one whose port is not a number, or with anything
/// after the host, is not echoed.
pub fn an_origin_is_echoed_only_when_it_is_a_whole_loopback_origin(binary: &str) {
    let server = Server::start(binary, &[]);
    for origin in [
        "http://localhost:1\nX-Injected: 1",
        "http://localhost:1.evil.example",
        "http://[::1].evil",
        "http://localhost:8000/x",
    ] {
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let request = format!(
            "GET /nosleep HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).unwrap();
        let (head, _) = crate::wire::read_answer(&mut stream);
        // Refusing the request whole (400) is as good as not echoing its origin.
        assert!(
            [200, 400].contains(&head.status),
            "{origin:?}: {}",
            head.text
        );
        assert_eq!(head.field("x-injected"), None, "{origin:?}: {}", head.text);
        let echoed = head.field("access-control-allow-origin");
        let whole = origin.split('\n').next().filter(|_| origin.contains('\n'));
        assert!(
            echoed.is_none() || echoed.as_deref() == whole,
            "{origin:?}: {}",
            head.text
        );
    }
    // A whole loopback origin is still echoed (cors_lets_loopback_pages_read_answers_and_no_other).
    let allowed = server.send_raw(
        b"GET /nosleep HTTP/1.1\r\nHost: x\r\nOrigin: http://localhost:1\r\nConnection: close\r\n\r\n",
    );
    let echoed = allowed.header("Access-Control-Allow-Origin");
    assert_eq!(echoed, Some("http://localhost:1"));
}

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

pub fn answers_name_the_process_and_the_handler_thread(binary: &str) {
    let server = Server::start(binary, &[]);
    let replies = all_at_once(
        &server,
        &["/nosleep", "/sleep?seconds=0.1", "/nope", "/nosleep"],
    );
    let tid = replies[0].tid().expect("X-Tid");
    for reply in &replies {
        assert_eq!(reply.pid(), Some(server.pid()), "{reply:?}");
        assert_eq!(reply.tid(), Some(tid), "one handler thread: {reply:?}");
    }
    // The native id of a live thread of this very process, as the kernel lists it.
    #[cfg(target_os = "linux")]
    {
        let task = format!("/proc/{}/task/{tid}", server.pid());
        assert!(
            std::path::Path::new(&task).exists(),
            "{task} does not exist"
        );
    }
    // Every request's START line, and no more: the log may trail the answers a little.
    let starts = server.wait_for_stdout_lines(|line| line.starts_with("START"), replies.len());
    let starts: Vec<_> = starts
        .iter()
        .filter_map(|line| start_ids(&line.text))
        .collect();
    assert_eq!(starts.len(), replies.len(), "one START line per request");
    server.wait_for_stdout_lines(|line| line.starts_with("DONE"), replies.len());
    let all = server.stdout_lines();
    assert_eq!(
        all.iter().filter(|line| line.starts_with("START")).count(),
        replies.len()
    );
    assert!(
        starts.iter().all(|&ids| ids == (server.pid(), tid)),
        "{starts:?}"
    );
}

pub fn every_request_is_logged_as_it_happens(binary: &str) {
    let server = Server::start(binary, &[]);
    thread::scope(|scope| {
        let sleeper = scope.spawn(|| server.get("/sleep?seconds=1"));
        // The START line must be out while the request still sleeps, not when it ends.
        let start = server.wait_for_stdout(|line| line.contains("GET /sleep?seconds=1"));
        assert!(start.text.starts_with("START PID "), "{}", start.text);
        let reply = sleeper.join().unwrap();
        assert!(
            start.at < reply.answered_at,
            "START came only after the answer"
        );
        assert!(
            start.at - reply.sent_at < Duration::from_millis(500),
            "START came {:?} after the request",
            start.at - reply.sent_at
        );
    });
    let done = server.wait_for_stdout(|line| line.starts_with("DONE") && line.contains("/sleep"));
    assert!(
        done.text.contains("GET /sleep?seconds=1 -> 200 in 1."),
        "{}",
        done.text
    );
    server.request("PUT", "/nosleep");
    let refused = server.wait_for_stdout(|line| line.starts_with("DONE") && line.contains("PUT"));
    assert!(
        refused.text.contains("PUT /nosleep -> 405 in "),
        "{}",
        refused.text
    );
}

pub fn malformed_requests_get_a_4xx_and_the_server_keeps_serving(binary: &str) {
    let server = Server::start(binary, &[]);
    for raw in [
        &b"garbage\r\n\r\n"[..],
        b"GET\r\n\r\n",
        b"GET /nosleep HTTP/1.1\r\nno colon here\r\n\r\n",
    ] {
        let reply = server.send_raw(raw);
        let shown = String::from_utf8_lossy(raw);
        assert!((400..500).contains(&reply.status), "{shown:?}: {reply:?}");
        assert_eq!(server.get("/nosleep").status, 200, "after {shown:?}");
    }
}

pub fn bad_flags_exit_2_with_one_line(binary: &str) {
    for args in [
        &["--bogus"][..],
        &["--port", "x"],
        &["--port", "65536"],
        &["--sleep", "-1"],
        &["--max-sleep", "nan"],
        &["--host", "999.1.1.1"],
        &["--sleep", "9", "--max-sleep", "1"],
        &["--database", "nope://"],
        &["--db-wait", "0"],
        &["--db-pool", "0"],
    ] {
        let output = run(binary, args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr:?}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

pub fn help_and_version_work(binary: &str) {
    let help = run(binary, &["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--host <ADDR>",
        "--port <N>",
        "-p",
        "--sleep <SECONDS>",
        "--max-sleep",
    ] {
        assert!(text.contains(flag), "{flag} missing from {text}");
    }
    let version = run(binary, &["--version"]);
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")));
}

pub fn a_port_in_use_is_one_clear_line(binary: &str) {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let output = run(binary, &["--port", &addr.port().to_string()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(
        stderr.contains(&addr.to_string()),
        "names the address: {stderr:?}"
    );
}

pub fn sigterm_during_a_sleep_still_answers_it_then_exits_0(binary: &str) {
    let mut server = Server::start(binary, &[]);
    let reply = thread::scope(|scope| {
        let sleeper = scope.spawn(|| server.get("/sleep?seconds=1"));
        server.wait_for_stdout(|line| line.starts_with("START") && line.contains("/sleep"));
        server.signal(libc::SIGTERM);
        server.wait_for_stderr(|line| line.contains("shutting down"));
        assert!(
            TcpStream::connect(server.addr()).is_err(),
            "a new connection is refused once shutting down"
        );
        sleeper.join().unwrap()
    });
    assert_eq!((reply.status, reply.body.as_str()), (200, "sleep"));
    assert!(reply.latency() >= Duration::from_millis(900), "{reply:?}");
    let status = server.wait_for_exit();
    assert_eq!(status.code(), Some(0), "{status:?}");
}

pub fn sigint_exits_0(binary: &str) {
    let mut server = Server::start(binary, &[]);
    assert_eq!(server.get("/nosleep").status, 200);
    server.signal(libc::SIGINT);
    let status = server.wait_for_exit();
    assert_eq!(status.code(), Some(0), "{status:?}");
}

pub fn the_index_page_offers_the_experiment_and_answers_are_never_cached(binary: &str) {
    let server = Server::start(binary, &[]);
    let page = server.get("/");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let name = std::path::Path::new(binary)
        .file_name()
        .unwrap()
        .to_string_lossy();
    assert!(
        page.body.contains(&format!("<code>{name}</code>")),
        "says which server it is"
    );
    assert!(page
        .body
        .contains(&format!("<code id=\"pid\">{}</code>", server.pid())));
    let tid = page.tid().unwrap();
    assert!(page
        .body
        .contains(&format!("<code id=\"tid\">{tid}</code>")));
    assert!(page.body.contains(r#"id="run""#) && page.body.contains(r#"href="/nosleep""#));
    for target in ["/", "/nosleep", "/sleep?seconds=0", "/nope"] {
        assert_eq!(
            server.get(target).header("Cache-Control"),
            Some("no-store"),
            "{target}"
        );
    }
    let icon = server.get("/favicon.ico");
    assert_eq!((icon.status, icon.body.as_str()), (204, ""));
}

pub fn cors_lets_loopback_pages_read_answers_and_no_other(binary: &str) {
    let server = Server::start(binary, &[]);
    let ask = |origin: &str| {
        server.send_raw(
            format!(
                "GET /nosleep HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
    };
    for loopback in [
        "http://127.0.0.1:8001",
        "http://localhost:8000",
        "http://[::1]:8000",
    ] {
        let reply = ask(loopback);
        assert_eq!(reply.header("Access-Control-Allow-Origin"), Some(loopback));
        assert!(reply
            .header("Access-Control-Expose-Headers")
            .is_some_and(|h| h.contains("X-Tid")));
    }
    for foreign in [
        "http://example.com",
        "http://192.168.1.5:8000",
        "https://127.0.0.1:8001",
    ] {
        let reply = ask(foreign);
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.header("Access-Control-Allow-Origin"),
            None,
            "{foreign}"
        );
    }
}

pub fn shutdown_waits_for_a_stalled_client_no_longer_than_the_grace_period(binary: &str) {
    let mut server = Server::start(binary, &["--sleep", "0", "--max-sleep", "0.5"]);
    let mut stalled = TcpStream::connect(server.addr()).unwrap();
    stalled
        .write_all(b"GET /nosleep HTTP/1.1\r\nHost: x\r\n")
        .unwrap(); // never finished
                   // Served after the stalled connection was accepted: connections are accepted in order.
    assert_eq!(server.get("/nosleep").status, 200);
    let signalled = Instant::now();
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_for_exit().code(), Some(0));
    // 0.5 s of grace plus at most a second to let answers out (async-server's), far below the
    // 10 s a client has to send its request head.
    let took = signalled.elapsed();
    assert!(took < Duration::from_millis(2000), "exit took {took:?}");
}

/// Sends `waiting` (`/sleep?seconds=S`, say), waits until its handler has started, then sends
/// `/nosleep`. Returns both replies: `(waiting, nosleep)`.
pub fn nosleep_during(server: &Server, waiting: &str) -> (Reply, Reply) {
    thread::scope(|scope| {
        let waiter = scope.spawn(|| server.get(waiting));
        server.wait_for_stdout(|line| line.starts_with("START") && line.ends_with(waiting));
        let nosleep = server.get("/nosleep");
        (waiter.join().unwrap(), nosleep)
    })
}

/// Sends `count` copies of `/sleep?seconds=S` at once; returns the replies and the wall time
/// from the first request sent to the last answer received.
pub fn sleeps_sent_together(server: &Server, count: usize, seconds: f64) -> (Vec<Reply>, Duration) {
    let target = format!("/sleep?seconds={seconds}");
    let replies = all_at_once(server, &vec![target.as_str(); count]);
    let first_sent = replies.iter().map(|reply| reply.sent_at).min().unwrap();
    let last_answered = replies.iter().map(|reply| reply.answered_at).max().unwrap();
    (replies, last_answered - first_sent)
}
