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

/// Whether `origin` (`http://127.0.0.1:8000`, say) is a page served from this machine.
pub(crate) fn is_loopback(origin: &str) -> bool {
    let Some(authority) = origin.strip_prefix("http://") else {
        return false;
    };
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
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
    fn versions_are_read_from_the_request_line() {
        assert_eq!(Version::of(1, 0), Version::Http10);
        assert_eq!(Version::of(1, 1), Version::Http11);
        for (major, minor) in [(0, 9), (2, 0), (1, 2), (3, 0)] {
            assert_eq!(Version::of(major, minor), Version::Other);
        }
    }
}
