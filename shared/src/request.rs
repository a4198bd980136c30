//! What a request says: its HTTP version, its request line, and the header words the servers
//! and the core read (`Connection`, `Origin`).

/// A request's HTTP version, as far as the routes care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
    /// Anything else (`HTTP/2.0`, `HTTP/0.9`): answered `505`.
    Other,
}

impl Version {
    /// The version of a request line's `HTTP/<major>.<minor>`.
    pub fn of(major: u8, minor: u8) -> Version {
        match (major, minor) {
            (1, 0) => Version::Http10,
            (1, 1) => Version::Http11,
            _ => Version::Other,
        }
    }
}

/// The request line: what a request asks for, and what its log lines name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head<'a> {
    /// As sent: `GET`.
    pub method: &'a str,
    /// As sent: `/sleep?seconds=1.5`.
    pub target: &'a str,
    pub version: Version,
}

/// Whether a `Connection` header's value names `token` (`close`, `keep-alive`), in any case: the
/// word both servers read to know whether a connection stays open.
pub fn says(connection: &[u8], token: &str) -> bool {
    // The value is a comma-separated list of tokens, with optional spaces around each.
    connection
        .split(|&byte| byte == b',')
        .any(|part| part.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// Whether `origin` (`http://127.0.0.1:8000`, say) is a page served from this machine. The
/// whole value is read, as `http://HOST` or `http://HOST:PORT`: HOST is `localhost`, a loopback
/// IPv4 address or a loopback IPv6 address in brackets, PORT one to five digits. Anything else
/// (a path, a port that is not a number, a byte that is not part of an origin) is not one, so an
/// origin echoed back holds nothing a header line could be broken with.
pub(crate) fn is_loopback(origin: &str) -> bool {
    let Some(authority) = origin.strip_prefix("http://") else {
        return false;
    };
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((host, rest)) => (host, rest),
            None => return false,
        },
        None => match authority.find(':') {
            Some(at) => authority.split_at(at),
            None => (authority, ""),
        },
    };
    let port_ok = match port.strip_prefix(':') {
        Some(digits) => {
            (1..=5).contains(&digits.len()) && digits.bytes().all(|byte| byte.is_ascii_digit())
        }
        None => port.is_empty(),
    };
    let host_ok = if authority.starts_with('[') {
        host.parse::<std::net::Ipv6Addr>()
            .is_ok_and(|ip| ip.is_loopback())
    } else {
        host == "localhost"
            || host
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback())
    };
    port_ok && host_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_tokens_are_read_in_any_case() {
        assert!(says(b"Keep-Alive", "keep-alive"));
        assert!(says(b"keep-alive, Upgrade", "upgrade"));
        assert!(says(b"CLOSE", "close"));
        assert!(says(b" close ", "close"));
        assert!(!says(b"keep-alive", "close"));
        assert!(!says(b"", "close"));
    }

    #[test]
    fn a_connection_token_is_a_whole_word() {
        assert!(!says(b"closed", "close"));
        assert!(!says(b"not-close", "close"));
        assert!(!says(b"keep-alive-ish", "keep-alive"));
        assert!(says(b"Upgrade,close", "close"));
    }

    #[test]
    fn an_origin_is_loopback_only_when_it_is_that_whole() {
        for allowed in [
            "http://127.0.0.1:8001",
            "http://localhost:8000",
            "http://localhost",
            "http://[::1]:8001",
            "http://[::1]",
            "http://127.1.2.3",
        ] {
            assert!(is_loopback(allowed), "{allowed}");
        }
        for refused in [
            "http://localhost:1\nX-Injected: 1",
            "http://localhost:1\r\nX-Injected: 1",
            "http://localhost:1.evil.example",
            "http://[::1].evil",
            "http://[::1]:80x",
            "http://localhost:",
            "http://localhost:123456",
            "http://localhost/",
            "http://localhost:8000/path",
            "http://127.0.0.1.evil.com",
            "http://[127.0.0.1]",
            "http://::1",
            "http://[::1",
            "http://localhost.",
            "https://127.0.0.1:8001",
            "http://10.0.0.1:8000",
            "null",
            "",
        ] {
            assert!(!is_loopback(refused), "{refused:?}");
        }
    }

    #[test]
    fn versions_are_read_from_the_request_line() {
        assert_eq!(Version::of(1, 0), Version::Http10);
        assert_eq!(Version::of(1, 1), Version::Http11);
        for (major, minor) in [(0, 9), (2, 0), (1, 2), (3, 0)] {
            assert_eq!(Version::of(major, minor), Version::Other);
        }
    }
}
