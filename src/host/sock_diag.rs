//! Socket listing through netlink `sock_diag` (what `ss` uses): one dump request per
//! (family, protocol), answered with one message per socket. The kernel does the walk that
//! reading `/proc/net/tcp` makes it print as text, without the formatting and parsing.
//!
//! The messages are built and read by the `netlink-packet-sock-diag` crate; [`parse_dump`]
//! turns one received datagram into sockets and is pure, so it is tested from bytes.
//! [`SockDiag`] is the thin I/O around it.

use std::io;
use std::net::SocketAddr;

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{IPPROTO_TCP, IPPROTO_UDP};
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
    let mut packet = NetlinkMessage::new(header, message.into());
    packet.finalize();
    let mut buf = vec![0; packet.buffer_len()];
    packet.serialize(&mut buf);
    buf
}

/// Reads the netlink messages of one received datagram.
pub fn parse_dump(mut buf: &[u8]) -> Result<Batch, ParseError> {
    let mut batch = Batch::default();
    while !buf.is_empty() {
        let message = NetlinkMessage::<SockDiagMessage>::deserialize(buf)
            .map_err(|e| ParseError(format!("sock_diag message: {e}")))?;
        let len = message.header.length as usize;
        match message.payload {
            NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(r)) => {
                let id = &r.header.socket_id;
                batch.inet.push(InetSocket {
                    state: r.header.state,
                    local: SocketAddr::new(id.source_address, id.source_port),
                });
            }
            NetlinkPayload::InnerMessage(SockDiagMessage::UnixResponse(_)) => batch.unix += 1,
            NetlinkPayload::Done(_) => batch.done = true,
            NetlinkPayload::Error(e) => {
                return Err(ParseError(format!("sock_diag error: {e}")));
            }
            _ => {}
        }
        // Messages are aligned to four bytes; a zero length would never advance.
        let step = (len + 3) & !3;
        if len == 0 || step > buf.len() {
            break;
        }
        buf = &buf[step..];
    }
    Ok(batch)
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
        let mut packet = NetlinkMessage::new(NetlinkHeader::default(), msg.into());
        packet.finalize();
        let mut buf = vec![0; packet.buffer_len()];
        packet.serialize(&mut buf);
        buf
    }

    fn done() -> Vec<u8> {
        let mut packet: NetlinkMessage<SockDiagMessage> = NetlinkMessage::new(
            NetlinkHeader::default(),
            NetlinkPayload::Done(DoneMessage::default()),
        );
        packet.finalize();
        let mut buf = vec![0; packet.buffer_len()];
        packet.serialize(&mut buf);
        buf
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
    fn truncated_or_garbage_bytes_are_errors_not_panics() {
        let buf = response(1, "10.0.0.1:22");
        for end in 1..buf.len() {
            let _ = parse_dump(&buf[..end]);
        }
        assert!(parse_dump(&[0xff; 40]).is_err());
    }
}
