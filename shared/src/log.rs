//! The request log: one `START` line when a request begins, one `DONE` line when it is answered.
//!
//! Lines gather in a [`LogBuffer`] and the server writes them out in one go. A `write` system call
//! per line would cost more than a whole minimal request, so the contract lets lines wait while
//! the server is busy, as long as each is out before the server waits for anything. The server
//! decides when that is; this buffer only formats the lines and says when it has grown big enough
//! to write regardless. Writing them to stdout is [`crate::os::log`]'s.

use std::io::{self, Write};
use std::time::Duration;

use crate::{Answer, Head, Identity};

/// The longest a method or target is logged; anything longer is cut and marked with `...`.
const MAX_LOGGED: usize = 256;

/// Log lines waiting to be written.
#[derive(Debug, Default)]
pub struct LogBuffer {
    bytes: Vec<u8>,
    /// ` PID <pid> TID <tid> ` of the last identity logged, formatted once: a buffer is one
    /// thread's, so it is nearly always the same.
    ids: Option<(Identity, Vec<u8>)>,
}

impl LogBuffer {
    /// Past this many bytes the buffer is [full](LogBuffer::is_full) and should be written out.
    pub const FLUSH_AT: usize = 4096;

    pub fn new() -> LogBuffer {
        LogBuffer {
            // Room for a full buffer plus the longest line that can push it over.
            bytes: Vec::with_capacity(Self::FLUSH_AT + 2 * MAX_LOGGED + 128),
            ids: None,
        }
    }

    /// `START PID <pid> TID <tid> <method> <target>`: the seed's line, then what was asked.
    pub fn start(&mut self, who: Identity, head: Head<'_>) {
        self.push_head(b"START", who, head);
        self.bytes.push(b'\n');
    }

    /// `DONE PID <pid> TID <tid> <method> <target> -> <status> in <elapsed>`, and for offloaded
    /// work ` (work on TID <tid>)`.
    pub fn done(&mut self, who: Identity, head: Head<'_>, answer: &Answer, took: Duration) {
        self.push_head(b"DONE", who, head);
        self.bytes.extend_from_slice(b" -> ");
        self.push_number(answer.status.into());
        self.bytes.extend_from_slice(b" in ");
        self.push_duration(took);
        if let Some(tid) = answer.work_tid {
            self.bytes.extend_from_slice(b" (work on TID ");
            self.push_number(tid);
            self.bytes.push(b')');
        }
        self.bytes.push(b'\n');
    }

    /// `SHED PID <pid> TID <tid> <method> <target> -> 503: waited <waited> in the queue, past
    /// --queue-deadline`: the request's one line ([`crate::Verdict::Shed`]); its work was not done.
    pub fn shed(&mut self, who: Identity, head: Head<'_>, waited: Duration) {
        self.push_head(b"SHED", who, head);
        self.bytes.extend_from_slice(b" -> 503: waited ");
        self.push_duration(waited);
        self.bytes
            .extend_from_slice(b" in the queue, past --queue-deadline\n");
    }

    /// `GONE PID <pid> TID <tid> <method> <target>: not run, its client hung up while it waited
    /// <waited> in the queue`: the request's one line ([`crate::Verdict::Gone`]).
    pub fn gone(&mut self, who: Identity, head: Head<'_>, waited: Duration) {
        self.push_head(b"GONE", who, head);
        self.bytes
            .extend_from_slice(b": not run, its client hung up while it waited ");
        self.push_duration(waited);
        self.bytes.extend_from_slice(b" in the queue\n");
    }

    /// `BLOCKED PID <pid> TID <tid> <method> <target>: ...`: the runtime thread `who` has been
    /// kept from its event loop for `held` by the request `head` (`None`: by code outside any
    /// request). While it still is, the line says so; once `over`, it gives the whole length.
    pub fn blocked(&mut self, who: Identity, head: Option<Head<'_>>, held: Duration, over: bool) {
        match head {
            Some(head) => self.push_head(b"BLOCKED", who, head),
            None => {
                self.push_head(
                    b"BLOCKED",
                    who,
                    Head {
                        method: "-",
                        target: "-",
                        version: crate::Version::Http11,
                    },
                );
            }
        }
        if over {
            self.bytes
                .extend_from_slice(b": held the runtime thread for ");
            self.push_duration(held);
        } else {
            self.bytes
                .extend_from_slice(b": holds the runtime thread, for ");
            self.push_duration(held);
            self.bytes.extend_from_slice(b" so far");
        }
        self.bytes.push(b'\n');
    }

    /// `0.041 ms`, `999.999 ms`, `5.001 s`.
    fn push_duration(&mut self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let (whole, thousandths, unit) = if micros < 1_000_000 {
            (micros / 1000, micros % 1000, &b" ms"[..])
        } else {
            (micros / 1_000_000, micros / 1000 % 1000, &b" s"[..])
        };
        self.push_number(whole);
        self.bytes.push(b'.');
        let digits = [thousandths / 100, thousandths / 10 % 10, thousandths % 10];
        self.bytes.extend(digits.map(|digit| b'0' + digit as u8));
        self.bytes.extend_from_slice(unit);
    }

    fn push_head(&mut self, tag: &[u8], who: Identity, head: Head<'_>) {
        self.bytes.extend_from_slice(tag);
        if self.ids.as_ref().is_none_or(|(cached, _)| *cached != who) {
            let mut ids = Vec::with_capacity(48);
            ids.extend_from_slice(b" PID ");
            ids.extend_from_slice(itoa::Buffer::new().format(who.pid).as_bytes());
            ids.extend_from_slice(b" TID ");
            ids.extend_from_slice(itoa::Buffer::new().format(who.tid).as_bytes());
            ids.push(b' ');
            self.ids = Some((who, ids));
        }
        let (_, ids) = self.ids.as_ref().expect("just formatted");
        self.bytes.extend_from_slice(ids);
        self.push_printable(head.method);
        self.bytes.push(b' ');
        self.push_printable(head.target);
    }

    fn push_number(&mut self, number: u64) {
        self.bytes
            .extend_from_slice(itoa::Buffer::new().format(number).as_bytes());
    }

    /// Copies `text` so that it cannot break or forge a line: bytes other than visible ASCII are
    /// written as `%XX`, and it is cut at [`MAX_LOGGED`] bytes.
    fn push_printable(&mut self, text: &str) {
        let bytes = &text.as_bytes()[..text.len().min(MAX_LOGGED)];
        // Every byte looked at, with no early exit, so that the compiler can test many at once.
        let graphic = bytes
            .iter()
            .fold(true, |all, byte| all & byte.is_ascii_graphic());
        if graphic {
            // The usual case: nothing to escape, so one copy.
            self.bytes.extend_from_slice(bytes);
        } else {
            for &byte in bytes {
                if byte.is_ascii_graphic() {
                    self.bytes.push(byte);
                } else {
                    const HEX: &[u8; 16] = b"0123456789ABCDEF";
                    let escape = [
                        b'%',
                        HEX[usize::from(byte >> 4)],
                        HEX[usize::from(byte & 15)],
                    ];
                    self.bytes.extend_from_slice(&escape);
                }
            }
        }
        if text.len() > MAX_LOGGED {
            self.bytes.extend_from_slice(b"...");
        }
    }

    /// True once enough is gathered that it should be written out now, busy or not.
    pub fn is_full(&self) -> bool {
        self.bytes.len() >= Self::FLUSH_AT
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Writes every gathered line to `out` in one `write_all` and empties the buffer, even when
    /// the write fails: a log nobody reads must not grow without bound.
    pub fn write_to(&mut self, out: &mut impl Write) -> io::Result<()> {
        if self.bytes.is_empty() {
            return Ok(());
        }
        let written = out.write_all(&self.bytes).and_then(|()| out.flush());
        self.bytes.clear();
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: Identity = Identity { pid: 41, tid: 43 };

    fn head<'a>(method: &'a str, target: &'a str) -> Head<'a> {
        Head {
            method,
            target,
            version: crate::Version::Http11,
        }
    }

    fn answer(status: u16) -> Answer {
        Answer::text(status, "")
    }

    fn written(log: &mut LogBuffer) -> String {
        let mut out = Vec::new();
        log.write_to(&mut out).unwrap();
        assert!(log.is_empty());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn start_line_begins_exactly_as_the_seeds() {
        let mut log = LogBuffer::new();
        log.start(ME, head("GET", "/sleep?seconds=1"));
        assert_eq!(
            written(&mut log),
            "START PID 41 TID 43 GET /sleep?seconds=1\n"
        );
    }

    #[test]
    fn done_line_has_method_path_status_and_elapsed_time() {
        let mut log = LogBuffer::new();
        let (ok, refused) = (answer(200), answer(405));
        log.done(ME, head("GET", "/nosleep"), &ok, Duration::from_micros(41));
        let long = Duration::from_micros(5_001_234);
        log.done(ME, head("HEAD", "/sleep"), &ok, long);
        let short = Duration::from_micros(999_999);
        log.done(ME, head("PUT", "/sleep"), &refused, short);
        assert_eq!(
            written(&mut log),
            "DONE PID 41 TID 43 GET /nosleep -> 200 in 0.041 ms\n\
             DONE PID 41 TID 43 HEAD /sleep -> 200 in 5.001 s\n\
             DONE PID 41 TID 43 PUT /sleep -> 405 in 999.999 ms\n"
        );
    }

    #[test]
    fn done_line_names_the_thread_that_did_offloaded_work() {
        let mut log = LogBuffer::new();
        let offloaded = Answer {
            work_tid: Some(44),
            ..answer(200)
        };
        let took = Duration::from_millis(1500);
        log.done(ME, head("GET", "/offload"), &offloaded, took);
        assert_eq!(
            written(&mut log),
            "DONE PID 41 TID 43 GET /offload -> 200 in 1.500 s (work on TID 44)\n"
        );
    }

    #[test]
    fn each_line_names_its_own_thread_when_threads_alternate() {
        let mut log = LogBuffer::new();
        let other = Identity { pid: 41, tid: 44 };
        log.start(ME, head("GET", "/a"));
        log.start(other, head("GET", "/b"));
        log.start(ME, head("GET", "/c"));
        assert_eq!(
            written(&mut log),
            "START PID 41 TID 43 GET /a\nSTART PID 41 TID 44 GET /b\nSTART PID 41 TID 43 GET /c\n"
        );
    }

    #[test]
    fn a_request_shed_or_dropped_from_the_queue_gets_one_line_saying_how_long_it_waited() {
        let mut log = LogBuffer::new();
        log.shed(ME, head("GET", "/nosleep"), Duration::from_millis(412));
        log.gone(ME, head("GET", "/sleep"), Duration::from_micros(1_002_500));
        assert_eq!(
            written(&mut log),
            "SHED PID 41 TID 43 GET /nosleep -> 503: waited 412.000 ms in the queue, past --queue-deadline\n\
             GONE PID 41 TID 43 GET /sleep: not run, its client hung up while it waited 1.002 s in the queue\n"
        );
    }

    #[test]
    fn blocked_lines_name_the_request_and_how_long() {
        let mut log = LogBuffer::new();
        let compute = head("GET", "/compute?seconds=2");
        log.blocked(ME, Some(compute), Duration::from_millis(125), false);
        log.blocked(ME, Some(compute), Duration::from_micros(2_004_100), true);
        log.blocked(ME, None, Duration::from_millis(300), true);
        assert_eq!(
            written(&mut log),
            "BLOCKED PID 41 TID 43 GET /compute?seconds=2: holds the runtime thread, for 125.000 ms so far\n\
             BLOCKED PID 41 TID 43 GET /compute?seconds=2: held the runtime thread for 2.004 s\n\
             BLOCKED PID 41 TID 43 - -: held the runtime thread for 300.000 ms\n"
        );
    }

    #[test]
    fn hostile_text_cannot_break_or_forge_a_line() {
        let mut log = LogBuffer::new();
        log.start(ME, head("G\nET", "/x\r\nSTART PID 1 TID 1 GET /é"));
        let text = written(&mut log);
        assert_eq!(
            text,
            "START PID 41 TID 43 G%0AET /x%0D%0ASTART%20PID%201%20TID%201%20GET%20/%C3%A9\n"
        );
    }

    #[test]
    fn long_targets_are_cut() {
        let mut log = LogBuffer::new();
        log.start(ME, head("GET", &format!("/{}", "a".repeat(100_000))));
        let text = written(&mut log);
        assert!(text.len() < MAX_LOGGED + 64, "{} bytes", text.len());
        assert!(text.ends_with("aaa...\n"));
    }

    #[test]
    fn fills_up_at_a_few_kib_and_is_emptied_even_when_the_write_fails() {
        let mut log = LogBuffer::new();
        let mut lines = 0;
        while !log.is_full() {
            log.start(ME, head("GET", "/nosleep"));
            lines += 1;
        }
        assert!(lines > 10, "gathers many lines: {lines}");
        assert!(log.bytes.len() < LogBuffer::FLUSH_AT + 128);

        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        assert!(log.write_to(&mut Broken).is_err());
        assert!(log.is_empty());
    }

    #[test]
    fn all_lines_go_out_in_one_write() {
        struct Counting(usize);
        impl Write for Counting {
            fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
                self.0 += 1;
                Ok(bytes.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut log = LogBuffer::new();
        for _ in 0..20 {
            log.start(ME, head("GET", "/nosleep"));
            let took = Duration::from_micros(3);
            log.done(ME, head("GET", "/nosleep"), &answer(200), took);
        }
        let mut out = Counting(0);
        log.write_to(&mut out).unwrap();
        assert_eq!(out.0, 1);
        log.write_to(&mut out).unwrap();
        assert_eq!(out.0, 1, "nothing to write, no write");
    }
}
