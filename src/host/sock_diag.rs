//! Socket listing through netlink `sock_diag` (what `ss` uses): one dump request per
//! (family, protocol), answered with one message per socket. The kernel does the walk that
//! reading `/proc/net/tcp` makes it print as text, without the formatting and parsing.
//!
//! Requests are built by the `netlink-packet-sock-diag` crate; [`parse_dump`] turns one
//! received datagram into sockets and is pure, so it is tested from bytes the crate encodes.
//! [`SockDiag`] is the thin I/O around it.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_UNIX, IPPROTO_TCP, IPPROTO_UDP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_packet_sock_diag::unix::{self, ShowFlags, UnixRequest};
use netlink_sys::{Socket, SocketAddr as NetlinkAddr, protocols::NETLINK_SOCK_DIAG};

pub use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6};

use super::ParseError;
use super::proc_net::InetSocket;

/// The transport of an inet dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
}

/// What one datagram of a dump held.
#[derive(Debug, Default, PartialEq)]
pub struct Batch {
    pub inet: Vec<InetSocket>,
    pub unix: usize,
    /// The dump's end (`NLMSG_DONE`) was in this datagram.
    pub done: bool,
}

/// A dump request for every socket of `family` (AF_INET or AF_INET6) and `protocol`, in
/// every state.
pub fn inet_request(family: u8, protocol: Protocol) -> Vec<u8> {
    let protocol = match protocol {
        Protocol::Tcp => IPPROTO_TCP,
        Protocol::Udp => IPPROTO_UDP,
    };
    let socket_id = if family == AF_INET6 {
        SocketId::new_v6()
    } else {
        SocketId::new_v4()
    };
    serialize(SockDiagMessage::InetRequest(InetRequest {
        family,
        protocol,
        extensions: ExtensionFlags::empty(),
        states: StateFlags::all(),
        socket_id,
    }))
}

/// A dump request for every unix socket, in every state.
pub fn unix_request() -> Vec<u8> {
    serialize(SockDiagMessage::UnixRequest(UnixRequest {
        state_flags: unix::StateFlags::from_bits_retain(u32::MAX),
        inode: 0,
        show_flags: ShowFlags::empty(),
        cookie: [0xff; 8],
    }))
}

fn serialize(message: SockDiagMessage) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    encode(header, message.into())
}

fn encode(header: NetlinkHeader, payload: NetlinkPayload<SockDiagMessage>) -> Vec<u8> {
    let mut packet = NetlinkMessage::new(header, payload);
    packet.finalize();
    let mut buf = vec![0; packet.buffer_len()];
    packet.serialize(&mut buf);
    buf
}

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `struct inet_diag_msg` up to and including the source address.
const INET_DIAG_MSG_SRC_END: usize = 24;

/// Reads the netlink messages of one received datagram.
///
/// Only the fixed header of each answer is read (family, state, source port and address:
/// `struct inet_diag_msg`), never its attributes: decoding every message with the crate
/// cost a fifth of a dump's time (docs/performance.md). The layout is the kernel's ABI;
/// the tests check it against messages the crate encodes.
pub fn parse_dump(mut buf: &[u8]) -> Result<Batch, ParseError> {
    let mut batch = Batch::default();
    while buf.len() >= NLMSG_HDRLEN {
        let len = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        let kind = u16::from_ne_bytes([buf[4], buf[5]]);
        if len < NLMSG_HDRLEN || len > buf.len() {
            return Err(ParseError(format!(
                "netlink message of {len} bytes in {} left",
                buf.len()
            )));
        }
        let payload = &buf[NLMSG_HDRLEN..len];
        match kind {
            NLMSG_DONE => batch.done = true,
            NLMSG_ERROR => {
                let code = payload
                    .get(..4)
                    .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                    .unwrap_or(0);
                if code != 0 {
                    return Err(ParseError(format!(
                        "sock_diag error: {}",
                        io::Error::from_raw_os_error(-code)
                    )));
                }
            }
            SOCK_DIAG_BY_FAMILY => match payload.first() {
                Some(&f) if f == AF_UNIX => batch.unix += 1,
                Some(_) => batch.inet.push(inet_socket(payload)?),
                None => return Err(ParseError("empty sock_diag answer".into())),
            },
            _ => {}
        }
        // Messages are aligned to four bytes.
        buf = buf.get((len + 3) & !3..).unwrap_or_default();
    }
    Ok(batch)
}

fn inet_socket(msg: &[u8]) -> Result<InetSocket, ParseError> {
    let header = msg
        .get(..INET_DIAG_MSG_SRC_END)
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
    Ok(InetSocket {
        state: header[1],
        local: SocketAddr::new(ip, port),
    })
}

/// A `NETLINK_SOCK_DIAG` socket, kept open between collections.
pub struct SockDiag {
    socket: Socket,
    buf: Vec<u8>,
}

/// Large enough for a few hundred sockets per datagram; the kernel fills up to this.
const RECV_BUF: usize = 64 * 1024;

impl SockDiag {
    pub fn open() -> io::Result<SockDiag> {
        let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
        socket.bind_auto()?;
        socket.connect(&NetlinkAddr::new(0, 0))?;
        Ok(SockDiag {
            socket,
            buf: Vec::with_capacity(RECV_BUF),
        })
    }

    /// Every socket of `family` and `protocol`.
    pub fn inet(&mut self, family: u8, protocol: Protocol) -> io::Result<Vec<InetSocket>> {
        let mut out = Vec::new();
        self.dump(&inet_request(family, protocol), |mut b| {
            out.append(&mut b.inet)
        })?;
        Ok(out)
    }

    /// How many unix sockets there are.
    pub fn unix_count(&mut self) -> io::Result<usize> {
        let mut n = 0;
        self.dump(&unix_request(), |b| n += b.unix)?;
        Ok(n)
    }

    fn dump(&mut self, request: &[u8], mut each: impl FnMut(Batch)) -> io::Result<()> {
        self.socket.send(request, 0)?;
        loop {
            self.buf.clear();
            let n = self.socket.recv(&mut self.buf, 0)?;
            let batch = parse_dump(&self.buf[..n.min(self.buf.len())])
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let done = batch.done;
            each(batch);
            if done || n == 0 {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::DoneMessage;
    use netlink_packet_sock_diag::inet::{InetResponse, InetResponseHeader};

    fn response(state: u8, local: &str) -> Vec<u8> {
        let local: SocketAddr = local.parse().unwrap();
        let mut socket_id = if local.is_ipv4() {
            SocketId::new_v4()
        } else {
            SocketId::new_v6()
        };
        socket_id.source_address = local.ip();
        socket_id.source_port = local.port();
        let header = InetResponseHeader {
            family: if local.is_ipv4() { AF_INET } else { AF_INET6 },
            state,
            timer: None,
            socket_id,
            recv_queue: 0,
            send_queue: 0,
            uid: 0,
            inode: 1,
        };
        let msg = SockDiagMessage::InetResponse(Box::new(InetResponse {
            header,
            nlas: Default::default(),
        }));
        encode(NetlinkHeader::default(), msg.into())
    }

    fn done() -> Vec<u8> {
        encode(
            NetlinkHeader::default(),
            NetlinkPayload::Done(DoneMessage::default()),
        )
    }

    #[test]
    fn a_datagram_of_responses_then_done() {
        let mut buf = response(10, "127.0.0.1:8080");
        buf.extend(response(1, "[::1]:443"));
        let first = parse_dump(&buf).unwrap();
        assert!(!first.done);
        assert_eq!(
            first.inet,
            [
                InetSocket {
                    state: 10,
                    local: "127.0.0.1:8080".parse().unwrap()
                },
                InetSocket {
                    state: 1,
                    local: "[::1]:443".parse().unwrap()
                },
            ]
        );
        buf.extend(done());
        assert!(parse_dump(&buf).unwrap().done);
        assert_eq!(parse_dump(&done()).unwrap().inet, []);
    }

    #[test]
    fn requests_are_dumps_for_every_state() {
        // struct nlmsghdr (16 bytes), then struct inet_diag_req_v2 / unix_diag_req.
        let req = inet_request(AF_INET6, Protocol::Tcp);
        let u16_at = |b: &[u8], i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        let u32_at = |b: &[u8], i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        assert_eq!(u32_at(&req, 0) as usize, req.len());
        assert_eq!(u16_at(&req, 4), 20, "SOCK_DIAG_BY_FAMILY");
        assert_eq!(u16_at(&req, 6), NLM_F_REQUEST | NLM_F_DUMP);
        assert_eq!((req[16], req[17]), (AF_INET6, IPPROTO_TCP));
        assert_eq!(u32_at(&req, 20), StateFlags::all().bits());
        let unix = unix_request();
        assert_eq!(unix[16], netlink_packet_sock_diag::constants::AF_UNIX);
        assert_eq!(u32_at(&unix, 20), u32::MAX, "every unix state");
    }

    #[test]
    fn unix_answers_are_counted_and_errors_reported() {
        let unix = SockDiagMessage::UnixResponse(Box::new(unix::UnixResponse {
            header: unix::UnixResponseHeader {
                kind: 1,
                state: 7,
                inode: 42,
                cookie: [0; 8],
            },
            nlas: Default::default(),
        }));
        let mut buf = encode(NetlinkHeader::default(), unix.clone().into());
        buf.extend(encode(NetlinkHeader::default(), unix.into()));
        buf.extend(done());
        let batch = parse_dump(&buf).unwrap();
        assert_eq!((batch.unix, batch.inet.len(), batch.done), (2, 0, true));

        let mut error = netlink_packet_core::ErrorMessage::default();
        error.code = std::num::NonZeroI32::new(-22);
        let err = parse_dump(&encode(
            NetlinkHeader::default(),
            NetlinkPayload::Error(error),
        ))
        .unwrap_err();
        assert!(err.0.contains("Invalid argument"), "{err}");
    }

    #[test]
    fn truncated_or_garbage_bytes_are_errors_not_panics() {
        let buf = response(1, "10.0.0.1:22");
        for end in 1..buf.len() {
            let _ = parse_dump(&buf[..end]);
        }
        assert!(parse_dump(&[0xff; 40]).is_err());
    }
}
