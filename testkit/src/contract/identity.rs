//! Who answers, and the log that says so.

use std::thread;
use std::time::Duration;

use crate::{all_at_once, start_ids, Server};

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
