//! A request head's checks before any route runs: size, header syntax, and body framing.
//!
//! hyper enforces some of this itself; tiny_http enforces none of it (it takes a 1 MiB header
//! or a `Content-Length: nope` without complaint). Screening here gives both servers the same
//! limits. No route takes a body, so a request that sends one, or frames one in a way that
//! cannot be trusted, is refused before a handler runs: no body is ever left half read.

use std::borrow::Cow;

use crate::Answer;

/// The largest request head (target plus header lines) a server accepts.
pub const MAX_HEAD: usize = 16 * 1024;

/// The most header lines a request may have.
pub const MAX_HEADERS: usize = 100;

/// Checks a request's target and header lines (name, value); returns the answer to send
/// instead of routing it, or `None` if it may go on.
pub(crate) fn screen<'a>(
    target: &str,
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Option<Answer> {
    let mut size = target.len();
    let mut count = 0;
    let mut length: Option<&[u8]> = None;
    for (name, value) in headers {
        size += name.len() + value.len() + 4; // ": " and CRLF
        count += 1;
        if size > MAX_HEAD || count > MAX_HEADERS {
            return Some(too_large());
        }
        if name.is_empty() || !name.bytes().all(is_token) {
            return Some(refuse("a header name is not a token"));
        }
        if has_control(value) {
            return Some(refuse("a header value holds a control character"));
        }
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return Some(refuse(
                "these routes take no request body (Transfer-Encoding)",
            ));
        }
        if name.eq_ignore_ascii_case("content-length") {
            if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
                return Some(refuse("Content-Length is not a number"));
            }
            if length.is_some_and(|earlier| earlier != value) {
                return Some(refuse("Content-Length is given twice, differently"));
            }
            length = Some(value);
        }
    }
    if size > MAX_HEAD {
        return Some(too_large());
    }
    match length {
        Some(value) if value.iter().any(|&digit| digit != b'0') => {
            Some(refuse("these routes take no request body (Content-Length)"))
        }
        _ => None,
    }
}

/// Whether `value` holds a control character other than tab. Every byte is looked at, with no
/// early exit, so that the compiler can test many at once.
fn has_control(value: &[u8]) -> bool {
    let control = |b: u8| (b < b' ') & (b != b'\t') | (b == 0x7f);
    value.iter().fold(false, |found, &b| found | control(b))
}

fn is_token(byte: u8) -> bool {
    TOKEN[usize::from(byte)]
}

/// Which bytes may appear in a header name (RFC 9110's `tchar`), looked up rather than tested:
/// every byte of every name of every request goes through it.
const TOKEN: [bool; 256] = {
    let mut token = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        token[byte] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            );
        byte += 1;
    }
    token
};

fn refuse(reason: &'static str) -> Answer {
    Answer {
        body: Cow::Owned(format!("bad request: {reason}\n")),
        ..Answer::text(400, "")
    }
}

fn too_large() -> Answer {
    Answer {
        body: Cow::Owned(format!(
            "request head too large: at most {MAX_HEAD} bytes in at most {MAX_HEADERS} header lines\n"
        )),
        ..Answer::text(431, "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(target: &str, headers: &[(&str, &str)]) -> Option<u16> {
        let headers = headers
            .iter()
            .map(|(name, value)| (*name, value.as_bytes()));
        screen(target, headers).map(|answer| answer.status)
    }

    #[test]
    fn ordinary_heads_pass() {
        assert_eq!(status("/nosleep", &[]), None);
        let browser = [
            ("Host", "localhost:8000"),
            ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)"),
            ("Accept", "text/html,*/*;q=0.8"),
            ("Cookie", "a=b; c=d"),
            ("X-Tab", "a\tb"),
            ("Content-Length", "0"),
        ];
        assert_eq!(status("/sleep?seconds=1", &browser), None);
    }

    #[test]
    fn oversized_heads_are_431() {
        assert_eq!(status(&"/a".repeat(MAX_HEAD), &[]), Some(431));
        let big = "b".repeat(MAX_HEAD);
        assert_eq!(status("/", &[("X-Big", &big)]), Some(431));
        let many = vec![("X-A", "a"); MAX_HEADERS + 1];
        assert_eq!(status("/", &many), Some(431));
        assert_eq!(status("/", &many[..MAX_HEADERS]), None);
    }

    #[test]
    fn malformed_header_lines_are_400() {
        for (name, value) in [
            ("", "x"),
            ("Bad Header", "x"),
            ("\0", "x"),
            ("X(", "x"),
            ("X-A", "a\u{1}b"),
            ("X-A", "a\rb"),
            ("X-A", "\u{7f}"),
        ] {
            assert_eq!(
                status("/", &[(name, value)]),
                Some(400),
                "{name:?}: {value:?}"
            );
        }
    }

    #[test]
    fn bodies_and_doubtful_framing_are_400() {
        for headers in [
            &[("Transfer-Encoding", "chunked")][..],
            &[("transfer-encoding", "gzip")],
            &[("Content-Length", "5")],
            &[("Content-Length", "nope")],
            &[("Content-Length", "-1")],
            &[("Content-Length", "")],
            &[("Content-Length", "1, 2")],
            &[("Content-Length", "99999999999999999999999")],
            &[("Content-Length", "0"), ("Content-Length", "1")],
            &[("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
        ] {
            let answer = screen("/", headers.iter().map(|(n, v)| (*n, v.as_bytes()))).unwrap();
            assert_eq!(answer.status, 400, "{headers:?}");
            assert!(answer.body.starts_with("bad request: ") && answer.body.ends_with('\n'));
        }
        assert_eq!(
            status("/", &[("Content-Length", "0"), ("content-length", "0")]),
            None
        );
        assert_eq!(status("/", &[("Content-Length", "000")]), None);
    }
}
