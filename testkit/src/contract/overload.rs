//! Overload: a request that waited too long in a queue of the server's, or whose client has gone,
//! is not run. Each server has its own queue (sync-server's for a handler thread, async-server's
//! for a thread of the blocking pool), so each check takes the flags that make the queue one
//! thread deep, the request that holds that thread, and the request to queue behind it.

use std::io::Write;
use std::net::TcpStream;
use std::thread;

use crate::Server;

/// How a server's queue is held, for these checks.
pub struct Queue<'a> {
    /// The flags that leave one thread to take from the queue (`--blocking-threads 1`, say).
    pub flags: &'a [&'a str],
    /// A request that holds that thread for about a second.
    pub holder: &'a str,
    /// A quick request that waits in the queue behind it.
    pub queued: &'a str,
    /// Whether a queued request has logged its `START` line while it waits (async-server's
    /// handler starts, then hands the work to the pool), or not (sync-server's waits for a
    /// handler thread to start at all).
    pub starts_before_the_queue: bool,
}

impl Queue<'_> {
    /// The queued request, told apart by `n`.
    fn queued(&self, n: &str) -> String {
        let separator = if self.queued.contains('?') { '&' } else { '?' };
        format!("{}{separator}n={n}", self.queued)
    }

    fn start(&self, binary: &str, more: &[&str]) -> Server {
        let flags: Vec<&str> = self.flags.iter().chain(more).copied().collect();
        Server::start(binary, &flags)
    }
}

/// With `--queue-deadline 200` and the one thread held for a second, three requests queued
/// behind it are answered `503` with `Retry-After: 1` as they leave the queue, each with one
/// `SHED` line and without being run; a request sent once the thread is free is answered `200`.
pub fn a_queued_request_past_the_deadline_is_shed_unrun(binary: &str, queue: &Queue) {
    let server = queue.start(binary, &["--queue-deadline", "200"]);
    let queued: Vec<String> = (1..=3).map(|n| queue.queued(&n.to_string())).collect();
    let (held, shed) = thread::scope(|scope| {
        let holder = scope.spawn(|| server.get(queue.holder));
        server.wait_for_stdout(|line| line.starts_with("START") && line.ends_with(queue.holder));
        let shed: Vec<_> = queued
            .iter()
            .map(|target| scope.spawn(|| server.get(target)))
            .collect();
        let shed: Vec<_> = shed.into_iter().map(|s| s.join().unwrap()).collect();
        (holder.join().unwrap(), shed)
    });
    assert_eq!(held.status, 200, "{}", held.body);
    for (target, reply) in queued.iter().zip(&shed) {
        assert_eq!(reply.status, 503, "{target}: {}", reply.body);
        assert_eq!(reply.header("Retry-After"), Some("1"), "{target}");
        assert!(reply.body.contains("--queue-deadline"), "{}", reply.body);
        // Answered as it left the queue, once the holder's thread was free: not before.
        assert!(reply.answered_at >= held.answered_at - std::time::Duration::from_millis(300));
    }
    let lines = server.wait_for_stdout_lines(|line| line.starts_with("SHED "), 3);
    for target in &queued {
        let logged = lines
            .iter()
            .filter(|line| line.text.contains(target.as_str()));
        assert_eq!(logged.count(), 1, "{target}: {lines:?}");
    }
    let after = server.get(&queue.queued("after"));
    assert_eq!(after.status, 200, "{}", after.body);
    server.wait_for_stdout(|line| line.starts_with("DONE") && line.contains("n=after -> 200"));
    not_run(&server, queue, &queued);
}

/// With the one thread held for a second, a request queued behind it whose client hangs up is
/// not run: one `GONE` line, and no answer logged; the server goes on serving.
pub fn a_queued_request_whose_client_hung_up_is_not_run(binary: &str, queue: &Queue) {
    let server = queue.start(binary, &[]);
    let gone = queue.queued("gone");
    thread::scope(|scope| {
        let holder = scope.spawn(|| server.get(queue.holder));
        server.wait_for_stdout(|line| line.starts_with("START") && line.ends_with(queue.holder));
        let mut client = TcpStream::connect(server.addr()).unwrap();
        write!(client, "GET {gone} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
        if queue.starts_before_the_queue {
            server.wait_for_stdout(|line| line.starts_with("START") && line.ends_with(&gone));
        } else {
            // The holder's connection and this one, both read: the request is in the queue.
            crate::wait_until_read(&server, 2);
        }
        drop(client);
        assert_eq!(holder.join().unwrap().status, 200);
    });
    let line = server.wait_for_stdout(|line| line.starts_with("GONE ") && line.contains(&gone));
    assert!(line.text.contains("not run"), "{}", line.text);
    assert_eq!(server.get("/nosleep").status, 200);
    server.wait_for_stdout(|line| line.starts_with("DONE") && line.contains("/nosleep -> 200"));
    not_run(&server, queue, &[gone]);
}

/// No request of `targets` was run: none has a `DONE` line with `200`, and where the handler
/// starts only once out of the queue, none has a `START` line either.
fn not_run(server: &Server, queue: &Queue, targets: &[String]) {
    for line in server.stdout_lines() {
        for target in targets {
            let is_target = line.contains(&format!("{target} ")) || line.ends_with(target.as_str());
            let ran = line.starts_with("DONE") && line.contains("-> 200");
            let started = !queue.starts_before_the_queue && line.starts_with("START");
            assert!(!(is_target && (ran || started)), "{target} was run: {line}");
        }
    }
}
