//! Socket listing through netlink `sock_diag` (what `ss` uses): one dump request per table,
//! answered with one message per socket. The kernel does the walk that reading
//! `/proc/net/tcp` makes it print as text, without the formatting and parsing.
//!
//! TCP is asked for with inet_diag's compat request (`TCPDIAG_GETSOCK`, [`tcp_request`]):
//! it names no family, so one walk of the kernel's TCP hash tables answers with the sockets
//! of both families, where the per-family `SOCK_DIAG_BY_FAMILY` request walks the whole
//! established hash once per family (docs/performance.md). UDP has no such request; unix
//! sockets are one table.
//!
//! [`parse_dump`] turns one received datagram into sockets and is pure, so it is tested from
//! bytes the `netlink-packet-sock-diag` crate encodes. [`SockDiag`] runs a dump over a
//! [`Link`]: the kernel's socket ([`KernelLink`]), or a script of datagrams in the tests.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_UNIX, IPPROTO_TCP, IPPROTO_UDP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_packet_sock_diag::unix::{self, ShowFlags, UnixRequest};
use netlink_sys::{Socket, SocketAddr as NetlinkAddr, protocols::NETLINK_SOCK_DIAG};
use nix::libc;
use nix::sys::socket::{setsockopt, sockopt::ReceiveTimeout};
use nix::sys::time::TimeVal;

pub use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6};

use super::ParseError;
use super::proc_net::InetSocket;

/// The transport of a per-family inet dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
}

/// Why a dump gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum DiagError {
    /// No sock_diag socket can be opened here: a kernel without sock_diag
    /// (EPROTONOSUPPORT), or a sandbox that forbids netlink (EAFNOSUPPORT, EPERM, EACCES).
    #[error("no sock_diag socket: {0}")]
    Unavailable(io::Error),
    /// The kernel answered that it does not offer this dump: ENOENT (no diag module for the
    /// protocol, as on a kernel without `udp_diag`, or for the family), EOPNOTSUPP (no
    /// inet_diag for the compat request), EPERM or EACCES (a security module).
    #[error("the kernel refused the dump: {0}")]
    Refused(io::Error),
    /// Any other error of the socket or the kernel, a timeout, or a dump that ended early.
    #[error("{0}")]
    Failed(io::Error),
    /// An answer that does not follow the kernel's ABI.
    #[error("malformed answer: {0}")]
    Malformed(#[from] ParseError),
}

impl DiagError {
    /// From an errno the kernel answered a request with.
    fn answered(errno: i32) -> DiagError {
        let e = io::Error::from_raw_os_error(errno);
        match errno {
            libc::ENOENT | libc::EOPNOTSUPP | libc::EPERM | libc::EACCES => DiagError::Refused(e),
            _ => DiagError::Failed(e),
        }
    }

    /// From a failure to open the socket.
    fn opening(e: io::Error) -> DiagError {
        match e.raw_os_error() {
            Some(libc::EPROTONOSUPPORT | libc::EAFNOSUPPORT | libc::EPERM | libc::EACCES) => {
                DiagError::Unavailable(e)
            }
            _ => DiagError::Failed(e),
        }
    }
}

/// What one datagram of a dump held.
#[derive(Debug, Default, PartialEq)]
pub struct Batch {
    pub inet: Vec<InetSocket>,
    pub unix: usize,
    /// Messages that answer another request (an earlier dump's leftovers), discarded.
    pub stale: usize,
    /// The dump's end (`NLMSG_DONE`) was in this datagram.
    pub done: bool,
}

/// Which request the answers must carry: its sequence number, and the port id of the
/// socket that sent it (the kernel addresses every answer to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    pub seq: u32,
    pub port: u32,
}

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;
const TCPDIAG_GETSOCK: u16 = 18;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `struct inet_diag_req`: family, two prefix lengths and the extensions (4 bytes),
/// `struct inet_diag_sockid` (48), the states and the unused table mask (8).
const INET_DIAG_REQ_LEN: usize = 60;
/// `struct inet_diag_msg`: up to the source address (24 bytes), then the destination,
/// interface, cookie, expires, queues and uid, then the inode (4 bytes at 68).
const INET_DIAG_MSG_LEN: usize = 72;
const INET_DIAG_MSG_INODE: usize = 68;

/// A dump request for every socket of `family` (AF_INET or AF_INET6) and `protocol`, in
/// every state.
pub fn inet_request(family: u8, protocol: Protocol, seq: u32) -> Vec<u8> {
    let protocol = match protocol {
        Protocol::Tcp => IPPROTO_TCP,
        Protocol::Udp => IPPROTO_UDP,
    };
    inet_request_for(family, protocol, seq)
}

fn inet_request_for(family: u8, protocol: u8, seq: u32) -> Vec<u8> {
    let socket_id = if family == AF_INET6 {
        SocketId::new_v6()
    } else {
        SocketId::new_v4()
    };
    serialize(
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol,
            extensions: ExtensionFlags::empty(),
            states: StateFlags::all(),
            socket_id,
        }),
        seq,
    )
}

/// A dump request for every TCP socket of both families, in every state: inet_diag's
/// compat request (`TCPDIAG_GETSOCK` with the old `struct inet_diag_req`), whose family the
/// kernel ignores. The crate does not build it; the layout is the kernel's uapi.
pub fn tcp_request(seq: u32) -> Vec<u8> {
    const LEN: usize = NLMSG_HDRLEN + INET_DIAG_REQ_LEN;
    let mut buf = Vec::with_capacity(LEN);
    buf.extend((LEN as u32).to_ne_bytes());
    buf.extend(TCPDIAG_GETSOCK.to_ne_bytes());
    buf.extend((NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    buf.extend(seq.to_ne_bytes());
    buf.extend(0u32.to_ne_bytes());
    // No family, prefix lengths or extensions; a zero socket id: no particular socket.
    buf.extend([0u8; 4 + 48]);
    buf.extend(StateFlags::all().bits().to_ne_bytes());
    buf.extend(0u32.to_ne_bytes());
    buf
}

/// A dump request for every unix socket, in every state.
pub fn unix_request(seq: u32) -> Vec<u8> {
    serialize(
        SockDiagMessage::UnixRequest(UnixRequest {
            state_flags: unix::StateFlags::from_bits_retain(u32::MAX),
            inode: 0,
            show_flags: ShowFlags::empty(),
            cookie: [0xff; 8],
        }),
        seq,
    )
}

fn serialize(message: SockDiagMessage, seq: u32) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = seq;
    encode(header, message.into())
}

fn encode(header: NetlinkHeader, payload: NetlinkPayload<SockDiagMessage>) -> Vec<u8> {
    let mut packet = NetlinkMessage::new(header, payload);
    packet.finalize();
    let mut buf = vec![0; packet.buffer_len()];
    packet.serialize(&mut buf);
    buf
}

fn i32_at(b: &[u8]) -> Option<i32> {
    Some(i32::from_ne_bytes(b.get(..4)?.try_into().ok()?))
}

/// Reads the netlink messages of one received datagram that answer `expect`; messages with
/// another sequence number or port id are counted as stale and skipped.
///
/// Only the fixed header of each answer is read (family, state, source port and address,
/// inode: `struct inet_diag_msg`), never its attributes: decoding every message with the crate
/// cost a fifth of a dump's time (docs/performance.md). The layout is the kernel's ABI;
/// the tests check it against messages the crate encodes.
pub fn parse_dump(mut buf: &[u8], expect: Expect) -> Result<Batch, DiagError> {
    let mut batch = Batch::default();
    while !buf.is_empty() {
        let header = buf.get(..NLMSG_HDRLEN).ok_or_else(|| {
            ParseError(format!(
                "{} bytes after the last netlink message",
                buf.len()
            ))
        })?;
        let u32_at =
            |i: usize| u32::from_ne_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
        let len = u32_at(0) as usize;
        let kind = u16::from_ne_bytes([header[4], header[5]]);
        let (seq, port) = (u32_at(8), u32_at(12));
        if len < NLMSG_HDRLEN || len > buf.len() {
            return Err(ParseError(format!(
                "netlink message of {len} bytes in {} left",
                buf.len()
            ))
            .into());
        }
        let payload = &buf[NLMSG_HDRLEN..len];
        // Messages are aligned to four bytes.
        buf = buf.get((len + 3) & !3..).unwrap_or_default();
        if (Expect { seq, port }) != expect {
            batch.stale += 1;
            continue;
        }
        match kind {
            // A dump the kernel ended with an error carries it here, ENOENT when the
            // protocol has no diag module; what came before is not every socket.
            NLMSG_DONE => match i32_at(payload).unwrap_or(0) {
                0 => batch.done = true,
                code => return Err(DiagError::answered(code.saturating_neg())),
            },
            NLMSG_ERROR => match i32_at(payload) {
                Some(0) => {}
                Some(code) => return Err(DiagError::answered(code.saturating_neg())),
                None => return Err(ParseError("NLMSG_ERROR without a code".into()).into()),
            },
            NLMSG_OVERRUN => {
                return Err(DiagError::Failed(io::Error::other("netlink overrun")));
            }
            SOCK_DIAG_BY_FAMILY | TCPDIAG_GETSOCK => match payload.first() {
                Some(&f) if f == AF_UNIX => batch.unix += 1,
                Some(_) => batch.inet.push(inet_socket(payload)?),
                None => return Err(ParseError("empty sock_diag answer".into()).into()),
            },
            _ => {}
        }
    }
    Ok(batch)
}

fn inet_socket(msg: &[u8]) -> Result<InetSocket, ParseError> {
    let header = msg
        .get(..INET_DIAG_MSG_LEN)
        .ok_or_else(|| ParseError(format!("inet_diag_msg of {} bytes", msg.len())))?;
    let port = u16::from_be_bytes([header[4], header[5]]);
    let src = &header[8..24];
    let ip = match header[0] {
        AF_INET => IpAddr::V4(Ipv4Addr::new(src[0], src[1], src[2], src[3])),
        AF_INET6 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(src);
            IpAddr::V6(Ipv6Addr::from(b))
        }
        other => return Err(ParseError(format!("address family {other}"))),
    };
    let inode = &header[INET_DIAG_MSG_INODE..];
    Ok(InetSocket {
        state: header[1],
        local: SocketAddr::new(ip, port),
        inode: u64::from(u32::from_ne_bytes([inode[0], inode[1], inode[2], inode[3]])),
    })
}

/// The socket a dump talks through.
pub trait Link {
    /// Opens a new socket in place of the current one; returns its port id.
    fn open(&mut self) -> Result<u32, DiagError>;
    /// Closes the socket, and with it whatever the kernel still holds for it: queued
    /// answers, and the rest of a dump it would go on with.
    fn close(&mut self);
    fn send(&mut self, request: &[u8]) -> io::Result<()>;
    /// Receives one datagram into `buf` (emptied, then filled up to its capacity); returns
    /// the datagram's whole length, more than `buf` holds when it was truncated.
    fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<usize>;
}

/// A `NETLINK_SOCK_DIAG` socket whose receives give up after a timeout.
pub struct KernelLink {
    socket: Option<Socket>,
    timeout: Duration,
}

impl KernelLink {
    fn socket(&self) -> io::Result<&Socket> {
        self.socket
            .as_ref()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "socket not open"))
    }
}

impl Link for KernelLink {
    fn open(&mut self) -> Result<u32, DiagError> {
        self.socket = None;
        let mut socket = Socket::new(NETLINK_SOCK_DIAG).map_err(DiagError::opening)?;
        let port = socket
            .bind_auto()
            .map_err(DiagError::opening)?
            .port_number();
        socket
            .connect(&NetlinkAddr::new(0, 0))
            .map_err(DiagError::opening)?;
        let timeout = TimeVal::new(
            libc::time_t::try_from(self.timeout.as_secs()).unwrap_or(libc::time_t::MAX),
            libc::suseconds_t::from(self.timeout.subsec_micros()),
        );
        setsockopt(&socket, ReceiveTimeout, &timeout).map_err(|e| DiagError::opening(e.into()))?;
        self.socket = Some(socket);
        Ok(port)
    }

    fn close(&mut self) {
        self.socket = None;
    }

    fn send(&mut self, request: &[u8]) -> io::Result<()> {
        let sent = self.socket()?.send(request, 0)?;
        if sent != request.len() {
            return Err(io::Error::other(format!(
                "sent {sent} of a {}-byte request",
                request.len()
            )));
        }
        Ok(())
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        buf.clear();
        // MSG_TRUNC: the datagram's length even when it did not fit.
        self.socket()?
            .recv(buf, libc::MSG_TRUNC)
            .map_err(|e| match e.kind() {
                io::ErrorKind::WouldBlock => io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no answer within {:?}", self.timeout),
                ),
                _ => e,
            })
    }
}

/// Runs dumps over one socket, kept open between them. After a dump fails in any way the
/// socket is closed, and the next dump opens a new one: what is left of the failed dump can
/// never be read as the next one's answer.
pub struct SockDiag<L: Link = KernelLink> {
    link: L,
    /// The open socket's port id; None before the first dump and after a failed one.
    port: Option<u32>,
    seq: u32,
    buf: Vec<u8>,
}

/// Large enough for any dump datagram: the kernel fills at most 32 KiB.
const RECV_BUF: usize = 64 * 1024;

impl SockDiag {
    /// Opens its socket at the first dump; every receive gives up after `timeout`.
    pub fn new(timeout: Duration) -> SockDiag {
        SockDiag::over(KernelLink {
            socket: None,
            timeout,
        })
    }
}

impl<L: Link> SockDiag<L> {
    fn over(link: L) -> SockDiag<L> {
        SockDiag {
            link,
            port: None,
            seq: 0,
            buf: Vec::with_capacity(RECV_BUF),
        }
    }

    /// Every TCP socket, IPv4 then IPv6, from one dump.
    pub fn tcp(&mut self) -> Result<[Vec<InetSocket>; 2], DiagError> {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        self.dump(tcp_request, |b| {
            for s in b.inet {
                if s.local.is_ipv4() { &mut v4 } else { &mut v6 }.push(s);
            }
        })?;
        Ok([v4, v6])
    }

    /// Every socket of `family` and `protocol`.
    pub fn inet(&mut self, family: u8, protocol: Protocol) -> Result<Vec<InetSocket>, DiagError> {
        let mut out = Vec::new();
        self.dump(
            |seq| inet_request(family, protocol, seq),
            |mut b| out.append(&mut b.inet),
        )?;
        Ok(out)
    }

    /// How many unix sockets there are.
    pub fn unix_count(&mut self) -> Result<usize, DiagError> {
        let mut n = 0;
        self.dump(unix_request, |b| n += b.unix)?;
        Ok(n)
    }

    fn dump(
        &mut self,
        request: impl FnOnce(u32) -> Vec<u8>,
        each: impl FnMut(Batch),
    ) -> Result<(), DiagError> {
        let result = self.try_dump(request, each);
        if result.is_err() {
            self.link.close();
            self.port = None;
        }
        result
    }

    fn try_dump(
        &mut self,
        request: impl FnOnce(u32) -> Vec<u8>,
        mut each: impl FnMut(Batch),
    ) -> Result<(), DiagError> {
        let port = match self.port {
            Some(port) => port,
            None => *self.port.insert(self.link.open()?),
        };
        self.seq = self.seq.wrapping_add(1);
        let expect = Expect {
            seq: self.seq,
            port,
        };
        self.link
            .send(&request(expect.seq))
            .map_err(DiagError::Failed)?;
        loop {
            let n = self.link.recv(&mut self.buf).map_err(DiagError::Failed)?;
            if n > self.buf.len() {
                return Err(ParseError(format!(
                    "a datagram of {n} bytes truncated to {}",
                    self.buf.len()
                ))
                .into());
            }
            if n == 0 {
                return Err(DiagError::Failed(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "an empty datagram before the dump's end",
                )));
            }
            let batch = parse_dump(&self.buf[..n], expect)?;
            let done = batch.done;
            each(batch);
            if done {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, VecDeque};
    use std::net::{TcpListener, TcpStream};

    use netlink_packet_core::{DoneMessage, ErrorMessage};
    use netlink_packet_sock_diag::inet::{InetResponse, InetResponseHeader};

    /// The request the datagrams of most tests answer.
    const ME: Expect = Expect { seq: 7, port: 4242 };

    fn header(ids: Expect) -> NetlinkHeader {
        let mut h = NetlinkHeader::default();
        h.sequence_number = ids.seq;
        h.port_number = ids.port;
        h
    }

    fn response(ids: Expect, state: u8, local: &str) -> Vec<u8> {
        response_with_inode(ids, state, local, 1)
    }

    fn response_with_inode(ids: Expect, state: u8, local: &str, inode: u32) -> Vec<u8> {
        let local: SocketAddr = local.parse().unwrap();
        let mut socket_id = if local.is_ipv4() {
            SocketId::new_v4()
        } else {
            SocketId::new_v6()
        };
        socket_id.source_address = local.ip();
        socket_id.source_port = local.port();
        let header_fields = InetResponseHeader {
            family: if local.is_ipv4() { AF_INET } else { AF_INET6 },
            state,
            timer: None,
            socket_id,
            recv_queue: 0,
            send_queue: 0,
            uid: 0,
            inode,
        };
        let msg = SockDiagMessage::InetResponse(Box::new(InetResponse {
            header: header_fields,
            nlas: Default::default(),
        }));
        encode(header(ids), msg.into())
    }

    fn done_with(ids: Expect, code: i32) -> Vec<u8> {
        let mut done = DoneMessage::default();
        done.code = code;
        encode(header(ids), NetlinkPayload::Done(done))
    }

    fn done(ids: Expect) -> Vec<u8> {
        done_with(ids, 0)
    }

    fn error(ids: Expect, code: i32) -> Vec<u8> {
        let mut error = ErrorMessage::default();
        error.code = std::num::NonZeroI32::new(code);
        encode(header(ids), NetlinkPayload::Error(error))
    }

    fn socket(state: u8, local: &str) -> InetSocket {
        InetSocket {
            state,
            local: local.parse().unwrap(),
            inode: 1,
        }
    }

    #[test]
    fn the_inode_is_read() {
        let buf = response_with_inode(ME, 10, "[::]:80", u32::MAX);
        assert_eq!(
            parse_dump(&buf, ME).unwrap().inet[0].inode,
            u64::from(u32::MAX)
        );
    }

    #[test]
    fn a_datagram_of_responses_then_done() {
        let mut buf = response(ME, 10, "127.0.0.1:8080");
        buf.extend(response(ME, 1, "[::1]:443"));
        let first = parse_dump(&buf, ME).unwrap();
        assert!(!first.done);
        assert_eq!(
            first.inet,
            [socket(10, "127.0.0.1:8080"), socket(1, "[::1]:443")]
        );
        buf.extend(done(ME));
        assert!(parse_dump(&buf, ME).unwrap().done);
        assert_eq!(parse_dump(&done(ME), ME).unwrap().inet, []);
    }

    #[test]
    fn compat_answers_are_read_as_by_family_ones() {
        // The kernel answers TCPDIAG_GETSOCK with messages of that type, same payload.
        let mut buf = response(ME, 6, "[::ffff:10.0.0.1]:22");
        buf[4..6].copy_from_slice(&TCPDIAG_GETSOCK.to_ne_bytes());
        let batch = parse_dump(&buf, ME).unwrap();
        assert_eq!(batch.inet, [socket(6, "[::ffff:10.0.0.1]:22")]);
    }

    #[test]
    fn requests_are_dumps_for_every_state() {
        // struct nlmsghdr (16 bytes), then struct inet_diag_req_v2 / unix_diag_req.
        let u16_at = |b: &[u8], i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        let u32_at = |b: &[u8], i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let req = inet_request(AF_INET6, Protocol::Tcp, 9);
        assert_eq!(u32_at(&req, 0) as usize, req.len());
        assert_eq!(u16_at(&req, 4), SOCK_DIAG_BY_FAMILY);
        assert_eq!(u16_at(&req, 6), NLM_F_REQUEST | NLM_F_DUMP);
        assert_eq!(u32_at(&req, 8), 9, "sequence number");
        assert_eq!((req[16], req[17]), (AF_INET6, IPPROTO_TCP));
        assert_eq!(u32_at(&req, 20), StateFlags::all().bits());
        let unix = unix_request(10);
        assert_eq!(u32_at(&unix, 8), 10);
        assert_eq!(unix[16], AF_UNIX);
        assert_eq!(u32_at(&unix, 20), u32::MAX, "every unix state");
        // struct inet_diag_req: family and three more bytes, the 48-byte socket id, states.
        let tcp = tcp_request(11);
        assert_eq!((u32_at(&tcp, 0), tcp.len()), (76, 76));
        assert_eq!(u16_at(&tcp, 4), TCPDIAG_GETSOCK);
        assert_eq!(u16_at(&tcp, 6), NLM_F_REQUEST | NLM_F_DUMP);
        assert_eq!(u32_at(&tcp, 8), 11);
        assert!(tcp[16..68].iter().all(|&b| b == 0), "no family, no socket");
        assert_eq!(u32_at(&tcp, 68), StateFlags::all().bits());
    }

    #[test]
    fn unix_answers_are_counted() {
        let unix = SockDiagMessage::UnixResponse(Box::new(unix::UnixResponse {
            header: unix::UnixResponseHeader {
                kind: 1,
                state: 7,
                inode: 42,
                cookie: [0; 8],
            },
            nlas: Default::default(),
        }));
        let mut buf = encode(header(ME), unix.clone().into());
        buf.extend(encode(header(ME), unix.into()));
        buf.extend(done(ME));
        let batch = parse_dump(&buf, ME).unwrap();
        assert_eq!((batch.unix, batch.inet.len(), batch.done), (2, 0, true));
    }

    #[test]
    fn kernel_errors_are_refusals_or_failures() {
        // An unknown family is answered with NLMSG_ERROR, a protocol without a diag module
        // (udp_diag missing) with the dump's NLMSG_DONE carrying ENOENT; the compat request
        // without inet_diag gets EOPNOTSUPP.
        for reply in [
            error(ME, -libc::ENOENT),
            done_with(ME, -libc::ENOENT),
            error(ME, -libc::EOPNOTSUPP),
        ] {
            let err = parse_dump(&reply, ME).unwrap_err();
            assert!(matches!(err, DiagError::Refused(_)), "{err:?}");
        }
        let err = parse_dump(&error(ME, -libc::EINVAL), ME).unwrap_err();
        assert!(matches!(err, DiagError::Failed(_)), "{err:?}");
        assert!(err.to_string().contains("Invalid argument"), "{err}");
        let err = parse_dump(&done_with(ME, -libc::ENOBUFS), ME).unwrap_err();
        assert!(matches!(err, DiagError::Failed(_)), "{err:?}");
        // An acknowledgement (code 0) is no error.
        assert_eq!(parse_dump(&error(ME, 0), ME).unwrap(), Batch::default());
    }

    #[test]
    fn answers_to_another_request_are_stale_and_skipped() {
        let earlier = Expect { seq: 6, ..ME };
        let other_socket = Expect { port: 1, ..ME };
        let mut buf = response(earlier, 1, "10.0.0.1:1");
        buf.extend(done(earlier));
        buf.extend(error(earlier, -libc::EBUSY));
        buf.extend(response(other_socket, 1, "10.0.0.1:2"));
        buf.extend(response(ME, 10, "10.0.0.1:3"));
        let batch = parse_dump(&buf, ME).unwrap();
        assert_eq!(batch.inet, [socket(10, "10.0.0.1:3")]);
        assert_eq!((batch.stale, batch.done), (4, false));
    }

    #[test]
    fn truncated_or_garbage_bytes_are_errors_not_panics() {
        let buf = response(ME, 1, "10.0.0.1:22");
        for end in 1..buf.len() {
            assert!(parse_dump(&buf[..end], ME).is_err(), "{end} bytes");
        }
        assert!(parse_dump(&[0xff; 40], ME).is_err());
        let mut trailing = done(ME);
        trailing.extend([0; 8]);
        assert!(parse_dump(&trailing, ME).is_err());
    }

    /// One datagram the scripted socket hands out.
    enum Rx {
        Datagram(Vec<u8>),
        /// The first bytes of a datagram of the given whole length.
        Truncated(Vec<u8>, usize),
    }

    /// A link over scripted sockets: the n-th socket opened (port 100 + n) hands out the
    /// n-th queue of datagrams, then times out.
    #[derive(Default)]
    struct Script {
        sockets: VecDeque<VecDeque<Rx>>,
        current: Option<VecDeque<Rx>>,
        opened: u32,
        sent: Vec<Vec<u8>>,
    }

    impl Link for Script {
        fn open(&mut self) -> Result<u32, DiagError> {
            self.current = Some(self.sockets.pop_front().unwrap_or_default());
            self.opened += 1;
            Ok(100 + self.opened)
        }
        fn close(&mut self) {
            self.current = None;
        }
        fn send(&mut self, request: &[u8]) -> io::Result<()> {
            self.sent.push(request.to_vec());
            Ok(())
        }
        fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
            buf.clear();
            match self.current.as_mut().and_then(VecDeque::pop_front) {
                Some(Rx::Datagram(d)) => {
                    buf.extend(&d);
                    Ok(d.len())
                }
                Some(Rx::Truncated(d, whole)) => {
                    buf.extend(&d);
                    Ok(whole)
                }
                None => Err(io::Error::new(io::ErrorKind::TimedOut, "no answer")),
            }
        }
    }

    fn ids(seq: u32, socket: u32) -> Expect {
        Expect {
            seq,
            port: 100 + socket,
        }
    }

    fn diag(sockets: impl IntoIterator<Item = Vec<Rx>>) -> SockDiag<Script> {
        SockDiag::over(Script {
            sockets: sockets.into_iter().map(VecDeque::from).collect(),
            ..Script::default()
        })
    }

    fn cat(parts: &[Vec<u8>]) -> Rx {
        Rx::Datagram(parts.concat())
    }

    #[test]
    fn a_garbled_dump_fails_and_the_next_one_reads_a_new_socket() {
        let mut garbled = response(ids(1, 1), 1, "10.0.0.1:1");
        garbled.extend([0xff; 20]);
        let mut d = diag([
            vec![
                Rx::Datagram(garbled),
                // The rest of the failed dump, never to be read as the next one's.
                cat(&[response(ids(1, 1), 1, "10.0.0.1:2"), done(ids(1, 1))]),
            ],
            vec![cat(&[response(ids(2, 2), 10, "[::]:22"), done(ids(2, 2))])],
        ]);
        assert!(matches!(d.tcp(), Err(DiagError::Malformed(_))));
        assert_eq!(d.tcp().unwrap(), [vec![], vec![socket(10, "[::]:22")]]);
        assert_eq!(d.link.opened, 2);
        assert_eq!(d.link.sent[1], tcp_request(2));
    }

    #[test]
    fn stale_answers_on_the_same_socket_do_not_shift_the_next_dump() {
        let mut d = diag([vec![
            cat(&[response(ids(1, 1), 10, "0.0.0.0:22"), done(ids(1, 1))]),
            // Left over from the first request (a duplicate end), then the second's answer.
            cat(&[done(ids(1, 1)), response(ids(2, 1), 1, "10.0.0.1:5")]),
            cat(&[done(ids(2, 1))]),
        ]]);
        assert_eq!(d.tcp().unwrap(), [vec![socket(10, "0.0.0.0:22")], vec![]]);
        assert_eq!(d.tcp().unwrap(), [vec![socket(1, "10.0.0.1:5")], vec![]]);
        assert_eq!(d.link.opened, 1, "no failure, no new socket");
    }

    #[test]
    fn a_timeout_or_a_truncated_datagram_fails_the_dump_and_closes_the_socket() {
        let answer = |seq, socket| {
            cat(&[
                response(ids(seq, socket), 1, "10.0.0.1:1"),
                done(ids(seq, socket)),
            ])
        };
        let mut d = diag([
            // One datagram, then nothing: the receive times out.
            vec![cat(&[response(ids(1, 1), 1, "10.0.0.1:1")])],
            vec![Rx::Truncated(response(ids(2, 2), 1, "10.0.0.1:1"), 70_000)],
            vec![answer(3, 3)],
        ]);
        let err = d.inet(AF_INET, Protocol::Udp).unwrap_err();
        assert!(
            matches!(&err, DiagError::Failed(e) if e.kind() == io::ErrorKind::TimedOut),
            "{err:?}"
        );
        let err = d.inet(AF_INET, Protocol::Udp).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
        assert_eq!(d.inet(AF_INET, Protocol::Udp).unwrap().len(), 1);
        assert_eq!(d.link.opened, 3);
        assert_eq!(d.link.sent[2], inet_request(AF_INET, Protocol::Udp, 3));
    }

    #[test]
    fn a_refusal_closes_the_socket_too() {
        let mut d = diag([
            vec![cat(&[done_with(ids(1, 1), -libc::ENOENT)])],
            vec![cat(&[done(ids(2, 2))])],
        ]);
        assert!(matches!(d.unix_count(), Err(DiagError::Refused(_))));
        assert_eq!(d.unix_count().unwrap(), 0);
        assert_eq!(d.link.opened, 2);
    }

    /// Counts by (family, state) of sockets listed from the live kernel.
    fn by_state(v4: &[InetSocket], v6: &[InetSocket]) -> BTreeMap<(bool, u8), usize> {
        let mut out = BTreeMap::new();
        for s in v4.iter().chain(v6) {
            *out.entry((s.local.is_ipv4(), s.state)).or_default() += 1;
        }
        out
    }

    #[test]
    fn on_this_kernel_one_compat_dump_lists_what_two_by_family_dumps_do() {
        let mut d = SockDiag::new(Duration::from_secs(5));
        let Ok(v4) = d.inet(AF_INET, Protocol::Tcp) else {
            eprintln!("netlink sock_diag unavailable; skipped");
            return;
        };
        assert!(v4.iter().all(|s| s.local.is_ipv4()));
        let Ok(listener) = TcpListener::bind("[::1]:0") else {
            eprintln!("no IPv6 loopback; skipped");
            return;
        };
        let addr = listener.local_addr().unwrap();
        let mut own = Vec::new();
        for _ in 0..3 {
            own.push(TcpStream::connect(addr).unwrap());
            own.push(listener.accept().unwrap().0);
        }
        let two = |d: &mut SockDiag| {
            let v4 = d.inet(AF_INET, Protocol::Tcp).unwrap();
            let v6 = d.inet(AF_INET6, Protocol::Tcp).unwrap();
            by_state(&v4, &v6)
        };
        // Sockets elsewhere come and go: each count of the one dump must lie between the
        // counts of the two-request dumps just before and just after it.
        for _ in 0..20 {
            let lo = two(&mut d);
            let [v4, v6] = d.tcp().unwrap();
            let hi = two(&mut d);
            assert!(
                v6.iter().any(|s| s.local == addr && s.state == 10),
                "own listener"
            );
            assert!(
                v6.iter().filter(|s| s.state == 1).count() >= 6,
                "own connections"
            );
            let one = by_state(&v4, &v6);
            let keys = lo.keys().chain(one.keys()).chain(hi.keys());
            let n = |m: &BTreeMap<_, usize>, k| m.get(k).copied().unwrap_or(0);
            if keys.into_iter().all(|k| {
                n(&lo, k).min(n(&hi, k)) <= n(&one, k) && n(&one, k) <= n(&lo, k).max(n(&hi, k))
            }) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the compat dump's counts kept falling outside the by-family ones around them");
    }

    #[test]
    fn on_this_kernel_a_protocol_without_a_diag_module_is_refused() {
        // 253 is reserved for experiments (RFC 3692): no kernel has a diag module for it.
        let mut d = SockDiag::new(Duration::from_secs(5));
        match d.dump(|seq| inet_request_for(AF_INET, 253, seq), |_| {}) {
            Err(DiagError::Refused(e)) => assert_eq!(e.raw_os_error(), Some(libc::ENOENT)),
            Err(DiagError::Unavailable(e)) => {
                eprintln!("netlink sock_diag unavailable ({e}); skipped")
            }
            other => panic!("{other:?}"),
        }
    }
}
