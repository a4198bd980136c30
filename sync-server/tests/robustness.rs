//! `sync-server` against hostile clients, at sizes the test suite can afford (`STRESS=1` for
//! the heavy ones). tiny_http has no timeouts nor limits of its own; these prove the ones this
//! server adds around it.

use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use testkit::{closed_by, stress_size, Server};

const BINARY: &str = env!("CARGO_BIN_EXE_sync-server");

#[test]
fn slowloris_stalls_nobody_and_is_cut_off_at_the_header_timeout() {
    let server = Server::start(BINARY, &["--header-timeout", "1"]);
    let started = Instant::now();
    let mut stalled: Vec<TcpStream> = (0..stress_size(100, 500))
        .map(|_| {
            let mut stream = TcpStream::connect(server.addr()).unwrap();
            stream
                .write_all(b"GET /nosleep HTTP/1.1\r\nHost: x\r\n")
                .unwrap(); // and no more
            stream
        })
        .collect();
    let reply = server.get("/nosleep");
    assert_eq!(reply.status, 200);
    assert!(
        reply.latency() < Duration::from_millis(500),
        "{:?}",
        reply.latency()
    );

    let deadline = started + Duration::from_secs(6);
    let open = stalled
        .iter_mut()
        .map(|stream| closed_by(stream, deadline))
        .filter(|closed| !closed)
        .count();
    assert_eq!(
        open, 0,
        "stalled connections still open after the header timeout"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed before the timeout"
    );
}

#[test]
fn it_keeps_accepting_after_idle_spells_longer_than_the_header_timeout() {
    // The header timeout ends tiny_http's accept thread after each idle spell; a new one must
    // take over every time.
    let server = Server::start(BINARY, &["--header-timeout", "0.3"]);
    for _ in 0..3 {
        thread::sleep(Duration::from_millis(700));
        let reply = server.get("/nosleep");
        assert_eq!(reply.status, 200);
        assert!(
            reply.latency() < Duration::from_millis(300),
            "{:?}",
            reply.latency()
        );
    }
}

#[test]
fn keep_alive_connections_are_served_across_a_new_accept_thread() {
    let server = Server::start(BINARY, &["--header-timeout", "0.5"]);
    let mut kept = TcpStream::connect(server.addr()).unwrap();
    let ask = b"GET /nosleep HTTP/1.1\r\nHost: x\r\n\r\n";
    kept.write_all(ask).unwrap();
    let first = read_answer(&mut kept);
    // Idle past the timeout on another connection lets the accept thread end and be replaced;
    // this connection stays under the timeout, so it must still be served.
    for _ in 0..4 {
        thread::sleep(Duration::from_millis(200));
        assert_eq!(server.get("/nosleep").status, 200);
        kept.write_all(ask).unwrap();
        assert_eq!(read_answer(&mut kept), first);
    }
}

fn read_answer(stream: &mut TcpStream) -> String {
    use std::io::Read;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = Vec::new();
    let mut byte = [0; 1];
    while !answer.ends_with(b"no sleep") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "closed: {answer:?}");
        answer.push(byte[0]);
    }
    let text = String::from_utf8(answer).unwrap();
    text.lines().next().unwrap().to_owned() // the status line
}

#[test]
fn running_out_of_file_descriptors_is_survived() {
    let server = Server::start_with_file_limit(BINARY, &["--threads", "2"], 64);
    thread::scope(|scope| {
        // Received before the descriptors run out: it must still be answered.
        let received = scope.spawn(|| server.get("/sleep?seconds=1"));
        server.wait_for_stdout(|line| line.starts_with("START") && line.contains("/sleep"));
        let hogs: Vec<TcpStream> = (0..100)
            .map(|_| TcpStream::connect(server.addr()).unwrap())
            .collect();
        thread::sleep(Duration::from_millis(300)); // let it run out
        drop(hogs);
        let released = Instant::now();
        loop {
            let deadline = Instant::now() + Duration::from_millis(500);
            if server
                .target()
                .get("/nosleep", deadline)
                .is_ok_and(|r| r.status == 200)
            {
                break;
            }
            assert!(
                released.elapsed() < Duration::from_secs(2),
                "not serving again"
            );
            thread::sleep(Duration::from_millis(20));
        }
        let received = received.join().unwrap();
        assert_eq!((received.status, received.body.as_str()), (200, "sleep"));
    });
}
