//! The process's connected sockets, found among its descriptors. tiny_http does not say which
//! socket a request came on, only the client's address: this is how sync-server finds the
//! connection of a client it must close, and counts the connections it holds.
//!
//! The descriptors are listed from `/proc/self/fd`, and each is then looked at by its number
//! with a raw system call (`getpeername`, `shutdown`), which takes the number and no object of
//! ours. tiny_http may close a descriptor between the listing and the call, and the number may be
//! reused at once: then the call looks at whatever has the number now, which is nothing
//! (`EBADF`), not a socket, or a socket with a peer of its own, looked at the same way. So the
//! race can miss a connection opened or closed meanwhile, and can never shut down the wrong one:
//! a socket is shut down only if its peer, read a moment before, is one of those to close.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// Shuts down the process's sockets connected to any of `peers` (tiny_http holds two per
/// connection, one to read and one to write), in one look at the descriptors.
pub fn shut_down(peers: &HashSet<SocketAddr>) {
    shut_down_where(|_, to| peers.contains(&to));
}

/// As [`shut_down`], for the connections of clients `refused` at a moment each: a socket only if
/// it has been quiet since. A client's port can be used again by a new connection as soon as
/// the refused one is closed on its side; that one has sent its request since, and is left
/// alone.
pub fn shut_down_refused(refused: &HashMap<SocketAddr, Instant>) {
    shut_down_where(|fd, to| {
        refused
            .get(&to)
            .is_some_and(|at| quiet_since(quiet_for(fd).unwrap_or(0), *at))
    });
}

fn shut_down_where(chosen: impl Fn(RawFd, SocketAddr) -> bool) {
    each_connected(|fd, to| {
        if chosen(fd, to) {
            // SAFETY: `shutdown` takes a number and no memory; a number no longer a socket
            // fails with an error, which is ignored.
            unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
        }
    });
}

/// Whether a socket quiet for `quiet` milliseconds (the kernel's count, in its 4 ms ticks) has
/// sent nothing since `moment`.
pub fn quiet_since(quiet: u32, moment: Instant) -> bool {
    /// The kernel's clock tick, the granularity of `tcpi_last_data_recv`.
    const TICK_MS: u128 = 4;
    u128::from(quiet) + TICK_MS >= moment.elapsed().as_millis()
}

/// The peers of the process's connected sockets (one per connection), each with how long ago
/// it last sent data (or, if it has sent none, connected): the kernel's `tcpi_last_data_recv`,
/// in milliseconds.
pub fn peers() -> HashMap<SocketAddr, u32> {
    let mut peers = HashMap::new();
    each_connected(|fd, peer| {
        let quiet = quiet_for(fd).unwrap_or(0);
        let longest = peers.entry(peer).or_insert(quiet);
        *longest = quiet.max(*longest);
    });
    peers
}

/// The process's connected sockets, by their peers' addresses (one of the two tiny_http holds
/// for each connection).
pub fn by_peer() -> HashMap<SocketAddr, RawFd> {
    let mut found = HashMap::new();
    each_connected(|fd, peer| {
        found.insert(peer, fd);
    });
    found
}

/// How far the process has read one connection of the server listening on `server`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reading {
    /// Bytes its client has sent so far.
    pub received: u64,
    /// Bytes of those that nobody has read yet.
    pub unread: u64,
    /// How long ago its client last sent data (or, if it has sent none, connected).
    pub quiet: Duration,
}

/// How far each connection accepted from `server` has been read, one entry per connection.
pub fn readings(server: SocketAddr) -> Vec<Reading> {
    let mut found = HashMap::new();
    each_connected(|fd, peer| {
        if local_of(fd) != Some(server) {
            return;
        }
        let mut unread: libc::c_int = 0;
        // SAFETY: `unread` is ours and writable; `fd` is only a number to the kernel.
        if unsafe { libc::ioctl(fd, libc::FIONREAD, &mut unread) } != 0 {
            return;
        }
        let Some(info) = tcp_info(fd) else {
            return;
        };
        let reading = Reading {
            received: info.tcpi_bytes_received,
            unread: u64::try_from(unread).unwrap_or(0),
            quiet: Duration::from_millis(info.tcpi_last_data_recv.into()),
        };
        found.insert(peer, reading);
    });
    found.into_values().collect()
}

/// Whether the process surely holds no connection accepted from `server` (false when it cannot
/// tell, out of descriptors to list its own with).
pub fn none_accepted(server: SocketAddr) -> bool {
    let mut none = true;
    let listed = each_connected(|fd, _| none &= local_of(fd) != Some(server));
    listed && none
}

/// Connections waiting in the listening socket numbered `fd` for the server to accept them (for
/// a listening socket, the kernel's `TCP_INFO` gives this as `tcpi_unacked`).
pub fn backlog(fd: RawFd) -> u32 {
    tcp_info(fd).map_or(0, |info| info.tcpi_unacked)
}

/// What the kernel says of a connection: how long ago its client last sent data, and whether
/// the client has closed its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heard {
    pub quiet: Duration,
    pub peer_closed: bool,
}

/// What the kernel says of the socket numbered `fd`, if it is still the one connected to `peer`
/// (the number may have been closed and reused since it was listed).
pub fn heard_from(fd: RawFd, peer: SocketAddr) -> Option<Heard> {
    /// `TCP_CLOSE_WAIT` in the kernel's `tcp_states.h`: the peer has closed its end.
    const CLOSE_WAIT: u8 = 8;
    if peer_of(fd)? != peer {
        return None;
    }
    let info = tcp_info(fd)?;
    Some(Heard {
        quiet: Duration::from_millis(info.tcpi_last_data_recv.into()),
        peer_closed: info.tcpi_state == CLOSE_WAIT,
    })
}

/// How long ago, in milliseconds, the socket numbered `fd` last received data (`TCP_INFO`).
fn quiet_for(fd: RawFd) -> Option<u32> {
    tcp_info(fd).map(|info| info.tcpi_last_data_recv)
}

/// The kernel's `TCP_INFO` on the socket numbered `fd`.
fn tcp_info(fd: RawFd) -> Option<libc::tcp_info> {
    // SAFETY: an all-zero tcp_info is valid.
    let mut info: libc::tcp_info = unsafe { mem::zeroed() };
    let mut length = mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` and `length` are ours and writable, and `length` says how much the kernel
    // may write; `fd` is only a number to it.
    let status = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast::<libc::c_void>(),
            &mut length,
        )
    };
    (status == 0).then_some(info)
}

/// Calls `each` with every connected socket of the process (by number) and its peer's address.
/// False if the descriptors could not be listed (out of descriptors, say).
fn each_connected(mut each: impl FnMut(RawFd, SocketAddr)) -> bool {
    let Ok(entries) = fs::read_dir("/proc/self/fd") else {
        return false;
    };
    let descriptors =
        entries.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<RawFd>().ok());
    for fd in descriptors {
        if let Some(peer) = peer_of(fd) {
            each(fd, peer);
        }
    }
    true
}

/// The address of the peer of the socket numbered `fd`, if it is a connected IP socket.
fn peer_of(fd: RawFd) -> Option<SocketAddr> {
    address_of(fd, libc::getpeername)
}

/// The local address of the socket numbered `fd`, if it is an IP socket.
fn local_of(fd: RawFd) -> Option<SocketAddr> {
    address_of(fd, libc::getsockname)
}

/// An address of the socket numbered `fd`, as `getpeername` or `getsockname` gives it.
fn address_of(
    fd: RawFd,
    get: unsafe extern "C" fn(
        libc::c_int,
        *mut libc::sockaddr,
        *mut libc::socklen_t,
    ) -> libc::c_int,
) -> Option<SocketAddr> {
    // SAFETY: an all-zero sockaddr_storage is a valid (empty) address.
    let mut address: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let mut length = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `address` and `length` are ours and writable, and `length` says how much of
    // `address` the kernel may write; `fd` is only a number to it.
    let status = unsafe { get(fd, (&raw mut address).cast::<libc::sockaddr>(), &mut length) };
    if status != 0 {
        return None;
    }
    match i32::from(address.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in, as its family says.
            let v4 = unsafe { &*(&raw const address).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
            Some(SocketAddrV4::new(ip, u16::from_be(v4.sin_port)).into())
        }
        libc::AF_INET6 => {
            // SAFETY: the kernel wrote a sockaddr_in6, as its family says.
            let v6 = unsafe { &*(&raw const address).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(v6.sin6_addr.s6_addr);
            let port = u16::from_be(v6.sin6_port);
            Some(SocketAddrV6::new(ip, port, v6.sin6_flowinfo, v6.sin6_scope_id).into())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    #[test]
    fn connected_sockets_are_found_by_their_peers_and_shut_down() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, from) = listener.accept().unwrap();
        assert_eq!(peer_of(accepted.as_raw_fd()), Some(from));
        assert_eq!(
            peer_of(listener.as_raw_fd()),
            None,
            "a listener has no peer"
        );
        assert_eq!(peer_of(RawFd::MAX), None, "no such descriptor");
        let found = peers();
        assert!(found.contains_key(&from));
        assert!(found.contains_key(&listener.local_addr().unwrap()));
        let heard = heard_from(accepted.as_raw_fd(), from).unwrap();
        assert!(!heard.peer_closed && heard.quiet < Duration::from_secs(1));
        assert_eq!(
            heard_from(accepted.as_raw_fd(), listener.local_addr().unwrap()),
            None
        );
        assert_eq!(by_peer().get(&from), Some(&accepted.as_raw_fd()));
        shut_down(&HashSet::from([from]));
        let mut byte = [0; 1];
        let read = std::io::Read::read(&mut &client, &mut byte).unwrap();
        assert_eq!(read, 0, "the client sees its connection shut down");
    }

    #[test]
    fn a_client_that_hung_up_is_heard_as_closed() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, from) = listener.accept().unwrap();
        std::io::Write::write_all(&mut &client, b"GET / HTTP/1.1\r\n\r\n").unwrap();
        drop(client);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !heard_from(accepted.as_raw_fd(), from).unwrap().peer_closed {
            assert!(Instant::now() < deadline, "the close never arrived");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_connection_nobody_has_read_shows_all_its_bytes_unread() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = listener.local_addr().unwrap();
        let client = TcpStream::connect(server).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        std::io::Write::write_all(&mut &client, b"GET / HTTP/1.1\r\n\r\n").unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let reading = loop {
            let found = readings(server);
            assert_eq!(
                found.len(),
                1,
                "only the accepted end is the server's: {found:?}"
            );
            if found[0].received > 0 {
                break found[0];
            }
            assert!(Instant::now() < deadline, "the bytes never arrived");
            std::thread::sleep(Duration::from_millis(1));
        };
        assert_eq!((reading.received, reading.unread), (18, 18));
        assert_eq!(backlog(listener.as_raw_fd()), 0);
        let _waiting = TcpStream::connect(server).unwrap();
        assert_eq!(
            backlog(listener.as_raw_fd()),
            1,
            "one connection not yet accepted"
        );
        let mut head = [0; 4];
        std::io::Read::read_exact(&mut &accepted, &mut head).unwrap();
        assert_eq!(readings(server)[0].unread, 14);
    }
}
