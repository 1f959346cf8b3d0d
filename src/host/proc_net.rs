//! The socket tables under `/proc/net` (`tcp`, `tcp6`, `udp`, `udp6`, `unix`), as psutil's
//! `net_connections()` reads them, and `if_inet6` (IPv6 interface addresses).

use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::ffi::OsStringExt;

use super::ParseError;

/// One TCP or UDP socket: the kernel's state number (`include/net/tcp_states.h`; UDP uses
/// 1 for a connected socket and 7 otherwise), the local address and the socket's inode (what
/// a holder's `/proc/<pid>/fd/N` link names; 0 for a socket no file refers to, such as one in
/// TIME_WAIT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InetSocket {
    pub state: u8,
    pub local: SocketAddr,
    pub inode: u64,
}

pub const TCP_ESTABLISHED: u8 = 1;
pub const TCP_CLOSE: u8 = 7;
pub const TCP_LISTEN: u8 = 10;
/// A request socket (a SYN received for a listener); sock_diag reports it under this
/// number, /proc/net/tcp as SYN_RECV.
pub const TCP_NEW_SYN_RECV: u8 = 12;

/// Every TCP state vitals exports, as OpenTelemetry `network.connection.state` values, with
/// the kernel's number. psutil's `CONN_*` names are the same states in upper case
/// (`CLOSE` is `closed`, `SYN_RECV` is `syn_received`, `FIN_WAIT1` is `fin_wait_1`).
pub const TCP_STATES: [(u8, &str); 11] = [
    (1, "established"),
    (2, "syn_sent"),
    (3, "syn_received"),
    (4, "fin_wait_1"),
    (5, "fin_wait_2"),
    (6, "time_wait"),
    (7, "closed"),
    (8, "close_wait"),
    (9, "last_ack"),
    (10, "listen"),
    (11, "closing"),
];

/// The state's name, or None for a number psutil does not know.
pub fn tcp_state_name(state: u8) -> Option<&'static str> {
    let state = if state == TCP_NEW_SYN_RECV { 3 } else { state };
    TCP_STATES
        .iter()
        .find(|(n, _)| *n == state)
        .map(|(_, name)| *name)
}

/// Parses `/proc/net/{tcp,tcp6,udp,udp6}`: the header line, then one socket per line.
pub fn parse_inet_table(text: &str) -> Result<Vec<InetSocket>, ParseError> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let mut fields = line.split_whitespace();
        let (Some(_sl), Some(local), Some(_remote), Some(state)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            if line.trim().is_empty() {
                continue;
            }
            return Err(ParseError(format!("malformed socket line {line:?}")));
        };
        let state = u8::from_str_radix(state, 16)
            .map_err(|e| ParseError(format!("state {state:?}: {e}")))?;
        // tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode; a table cut before the
        // inode (an old fixture) has inodes of 0, which no descriptor names.
        let inode = fields.nth(5).and_then(|i| i.parse().ok()).unwrap_or(0);
        out.push(InetSocket {
            state,
            local: decode_address(local)?,
            inode,
        });
    }
    Ok(out)
}

/// `0100007F:0050` -> 127.0.0.1:80. The kernel prints each 32-bit word of the address in
/// the host's byte order.
pub fn decode_address(field: &str) -> Result<SocketAddr, ParseError> {
    let bad = || ParseError(format!("address {field:?}"));
    let (ip, port) = field.split_once(':').ok_or_else(bad)?;
    let port = u16::from_str_radix(port, 16).map_err(|_| bad())?;
    let word = |hex: &str| -> Result<[u8; 4], ParseError> {
        u32::from_str_radix(hex, 16)
            .map(u32::to_ne_bytes)
            .map_err(|_| bad())
    };
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(ip)?)),
        32 if ip.is_ascii() => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_exact_mut(4).enumerate() {
                chunk.copy_from_slice(&word(&ip[i * 8..i * 8 + 8])?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return Err(bad()),
    };
    Ok(SocketAddr::new(ip, port))
}

/// Counts the sockets of `/proc/net/unix`. As psutil does, a line without a space (a
/// path with a newline in it, continued on the next line) is not a socket.
pub fn count_unix_table(text: &str) -> usize {
    text.lines().skip(1).filter(|l| l.contains(' ')).count()
}

/// One line of `/proc/net/if_inet6`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inet6Addr {
    /// The interface's name as the kernel gives it (bytes, not necessarily UTF-8).
    pub interface: OsString,
    pub address: Ipv6Addr,
    pub prefix_len: u8,
}

/// Parses `/proc/net/if_inet6`: address (32 hex digits, network order), interface index,
/// prefix length, scope and flags in hex, then the interface name.
pub fn parse_if_inet6(text: &[u8]) -> Result<Vec<Inet6Addr>, ParseError> {
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let fields: Vec<&[u8]> = super::words(line).collect();
        if fields.is_empty() {
            continue;
        }
        let malformed = || {
            ParseError(format!(
                "malformed line {:?}",
                String::from_utf8_lossy(line)
            ))
        };
        let [hex, _index, prefix, _scope, _flags, name] = fields[..] else {
            return Err(malformed());
        };
        let (Ok(hex), Ok(prefix)) = (std::str::from_utf8(hex), std::str::from_utf8(prefix)) else {
            return Err(malformed());
        };
        let bits = u128::from_str_radix(hex, 16)
            .ok()
            .filter(|_| hex.len() == 32)
            .ok_or_else(|| ParseError(format!("address {hex:?}")))?;
        let prefix_len = u8::from_str_radix(prefix, 16)
            .ok()
            .filter(|p| *p <= 128)
            .ok_or_else(|| ParseError(format!("prefix length {prefix:?}")))?;
        out.push(Inet6Addr {
            interface: OsString::from_vec(name.to_vec()),
            address: Ipv6Addr::from(bits),
            prefix_len,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/modern/proc/net/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn states(sockets: &[InetSocket]) -> Vec<&'static str> {
        sockets
            .iter()
            .filter_map(|s| tcp_state_name(s.state))
            .collect()
    }

    #[test]
    fn tcp4() {
        let t = parse_inet_table(&fixture("tcp")).unwrap();
        assert_eq!(
            states(&t),
            [
                "listen",
                "listen",
                "established",
                "established",
                "time_wait"
            ]
        );
        assert_eq!(t[0].local, "127.0.0.1:631".parse().unwrap());
        assert_eq!(t[1].local, "0.0.0.0:22".parse().unwrap());
        assert_eq!(t[2].local, "10.0.0.5:22".parse().unwrap());
        assert_eq!((t[0].inode, t[1].inode), (21830, 20133));
        assert_eq!(t[4].inode, 0, "time_wait: no file");
    }

    #[test]
    fn tcp6_words_are_in_host_order() {
        let t = parse_inet_table(&fixture("tcp6")).unwrap();
        assert_eq!(
            states(&t),
            ["listen", "listen", "established", "close_wait"]
        );
        assert_eq!(t[0].local, "[::]:22".parse().unwrap());
        assert_eq!(t[1].local, "[::1]:631".parse().unwrap());
        assert_eq!(t[2].local, "[::ffff:127.0.0.1]:9090".parse().unwrap());
    }

    #[test]
    fn udp_and_unix() {
        let u = parse_inet_table(&fixture("udp")).unwrap();
        assert_eq!(u.len(), 3);
        assert_eq!(u.iter().filter(|s| s.state == TCP_CLOSE).count(), 2);
        assert_eq!(u[0].local, "127.0.0.53:53".parse().unwrap());
        assert_eq!(parse_inet_table(&fixture("udp6")).unwrap().len(), 1);
        // Six sockets; a path with a newline continues on a line without spaces.
        assert_eq!(count_unix_table(&fixture("unix")), 6);
    }

    #[test]
    fn states_follow_the_kernel_numbers() {
        assert_eq!(tcp_state_name(0x0A), Some("listen"));
        assert_eq!(tcp_state_name(TCP_NEW_SYN_RECV), Some("syn_received"));
        assert_eq!(tcp_state_name(0), None);
        assert_eq!(tcp_state_name(13), None);
    }

    #[test]
    fn bad_addresses() {
        for f in ["0100007F", "0100007F:ZZ", "0100:0050", "0100007X:0050"] {
            assert!(decode_address(f).is_err(), "{f}");
        }
        assert!(parse_inet_table("header\n  0: 0100007F:0050\n").is_err());
    }

    #[test]
    fn if_inet6() {
        let a = parse_if_inet6(fixture("if_inet6").as_bytes()).unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].address, Ipv6Addr::LOCALHOST);
        assert_eq!(a[0].prefix_len, 128);
        assert_eq!(a[1].interface, "eth0");
        assert_eq!(
            a[1].address,
            "fe80::5054:ff:fe12:3456".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(a[1].prefix_len, 64);
        assert!(parse_if_inet6(b"zz 01 80 10 80 lo\n").is_err());
        assert!(parse_if_inet6(b"\xff 01 80 10 80 lo\n").is_err());
        let a = parse_if_inet6(include_bytes!(
            "../../tests/fixtures/non-utf8/proc/net/if_inet6"
        ))
        .unwrap();
        assert_eq!(a[1].interface.as_encoded_bytes(), b"\xe9th0");
    }
}
