//! Reading answers off a raw connection, for the tests that speak HTTP by hand (several requests
//! on one connection, a connection kept open, a client that misbehaves). httparse reads each
//! head; the body is as long as its `Content-Length` says.

use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

/// An answer's head as sent: its text, status and fields.
#[derive(Clone, Debug)]
pub struct AnswerHead {
    /// The head as it came, status line and fields, up to the blank line that ends it.
    pub text: String,
    pub status: u16,
    fields: Vec<(String, String)>,
}

impl AnswerHead {
    /// The value of the field `name` (in any case), trimmed, in lower case.
    pub fn field(&self, name: &str) -> Option<String> {
        let found = self
            .fields
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name));
        found.map(|(_, value)| value.to_ascii_lowercase())
    }

    /// Its `Content-Length`, if it has one.
    pub fn content_length(&self) -> Option<usize> {
        Some(
            self.field("content-length")?
                .parse()
                .expect("a Content-Length"),
        )
    }
}

/// The answer head at the start of `bytes` and the number of bytes it takes; `None` while the
/// head is not complete. Panics on bytes that are not an HTTP/1.x answer head.
pub fn head(bytes: &[u8]) -> Option<(AnswerHead, usize)> {
    let mut fields = [httparse::EMPTY_HEADER; 32];
    let mut answer = httparse::Response::new(&mut fields);
    let parsed = answer
        .parse(bytes)
        .unwrap_or_else(|error| panic!("not an answer head ({error}): {bytes:?}"));
    let httparse::Status::Complete(length) = parsed else {
        return None;
    };
    let fields = answer.headers.iter().map(|field| {
        let value = String::from_utf8_lossy(field.value).trim().to_owned();
        (field.name.to_owned(), value)
    });
    let head = AnswerHead {
        text: String::from_utf8_lossy(&bytes[..length]).into_owned(),
        status: answer.code.expect("a complete head has a status"),
        fields: fields.collect(),
    };
    Some((head, length))
}

/// Reads one answer head off `stream`, a byte at a time so that nothing after it is taken.
pub fn read_head(stream: &mut TcpStream) -> AnswerHead {
    let mut bytes = Vec::new();
    let mut byte = [0; 1];
    loop {
        let read = stream.read(&mut byte).expect("an answer head");
        assert_eq!(read, 1, "closed before a whole answer head: {bytes:?}");
        bytes.push(byte[0]);
        if bytes.ends_with(b"\r\n\r\n") {
            if let Some((head, _)) = head(&bytes) {
                return head;
            }
        }
    }
}

/// Reads one whole answer to a `GET` off `stream`: its head, then its body by `Content-Length`.
pub fn read_answer(stream: &mut TcpStream) -> (AnswerHead, Vec<u8>) {
    let head = read_head(stream);
    let mut body = vec![0; head.content_length().unwrap_or(0)];
    stream.read_exact(&mut body).expect("the body");
    (head, body)
}

/// Reads one whole answer, as [`read_answer`], and tells whether the server closed the
/// connection right after it (waiting 300 ms to see).
pub fn read_answer_seeing_close(stream: &mut TcpStream) -> (AnswerHead, Vec<u8>, bool) {
    let (head, body) = read_answer(stream);
    let before = stream.read_timeout().unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    // A server that closes does so right after the answer; one that keeps it open sends nothing.
    let mut byte = [0; 1];
    let closed = match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => panic!("bytes after the answer {}", head.text),
        Err(error) => error.kind() == std::io::ErrorKind::ConnectionReset,
    };
    stream.set_read_timeout(before).unwrap();
    (head, body, closed)
}
