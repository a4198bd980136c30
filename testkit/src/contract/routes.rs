//! The routes: each answers as the interface says, and refuses what it must.

use std::time::Duration;

use super::nosleep_during;
use crate::{Reply, Server};

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
