//! Interface status and addresses: psutil's `net_if_stats()` from sysfs
//! (`class/net/<name>/{flags,operstate,mtu,speed,duplex}`) and `net_if_addrs()` from
//! getifaddrs(3), or, on a fixture tree, from sysfs and `/proc/net/if_inet6`.

use std::ffi::{OsStr, OsString};
use std::net::{IpAddr, Ipv6Addr};

use super::bytes::escape_os;
use super::proc_net::Inet6Addr;
use super::{HostError, HostPaths, Limit, ParseError};

const IFF_UP: u32 = 0x1;
const IFF_BROADCAST: u32 = 0x2;
const IFF_POINTOPOINT: u32 = 0x10;

/// psutil's `NIC_DUPLEX_*` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duplex {
    Unknown = 0,
    Half = 1,
    Full = 2,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicStats {
    pub isup: bool,
    pub duplex: Duplex,
    /// Mb/s as psutil reports it; 0 when unknown.
    pub speed_mbps: u64,
    pub mtu: u64,
}

/// `flags` holds the flags set on the device (`0x1003`); psutil's isup is IFF_RUNNING as
/// the SIOCGIFFLAGS ioctl reports it, which the kernel computes (`dev_get_flags`) as: the
/// device is up and its operational state is `up` or `unknown` (`netif_oper_up`). The
/// sysfs `flags` file never carries IFF_RUNNING itself.
pub fn is_running(flags: u32, operstate: &str) -> bool {
    flags & IFF_UP != 0 && matches!(operstate.trim(), "up" | "unknown")
}

pub fn parse_flags(text: &str) -> Result<u32, ParseError> {
    let t = text.trim();
    u32::from_str_radix(t.trim_start_matches("0x"), 16)
        .map_err(|e| ParseError(format!("flags {t:?}: {e}")))
}

/// sysfs `speed`: Mb/s, or -1 (SPEED_UNKNOWN) when the link is down or the driver cannot
/// tell; psutil reports 0 for that and for anything above INT_MAX.
pub fn parse_speed(text: &str) -> u64 {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|s| (0..=i64::from(i32::MAX)).contains(s))
        .map_or(0, |s| s as u64)
}

pub fn parse_duplex(text: &str) -> Duplex {
    match text.trim() {
        "full" => Duplex::Full,
        "half" => Duplex::Half,
        _ => Duplex::Unknown,
    }
}

/// Reads one interface's status. An interface whose directory is gone (it vanished after
/// /proc/net/dev listed it) is `Ok(None)`, as psutil skips ENODEV. Speed and duplex are
/// unreadable (EINVAL) on virtual devices and on links that are down: unknown, as the
/// ethtool ioctl psutil uses reports them. `name` is the kernel's, bytes that need not be
/// UTF-8, and names the sysfs directory as it is.
pub fn read_nic_stats(paths: &HostPaths, name: &OsStr) -> Result<Option<NicStats>, HostError> {
    let dir = paths.sys("class/net").join(name);
    let flags = match super::read_parsed_with(&dir.join("flags"), Limit::Attribute, parse_flags) {
        Ok(f) => f,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    let operstate = super::read_optional(&dir.join("operstate"))?.unwrap_or_default();
    let mtu = super::read_u64(&dir.join("mtu"))?;
    let speed_mbps = super::read_optional(&dir.join("speed"))?.map_or(0, |t| parse_speed(&t));
    let duplex =
        super::read_optional(&dir.join("duplex"))?.map_or(Duplex::Unknown, |t| parse_duplex(&t));
    Ok(Some(NicStats {
        isup: is_running(flags, &operstate),
        duplex,
        speed_mbps,
        mtu,
    }))
}

/// psutil's address families, as `network.type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    Ipv4,
    Ipv6,
    Link,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
            Family::Link => "link",
        }
    }
}

/// One entry of `net_if_addrs()[interface]`, formatted as psutil formats it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IfAddr {
    /// The kernel's name (bytes, not necessarily UTF-8).
    pub interface: OsString,
    pub family: Family,
    pub address: String,
    pub netmask: Option<String>,
    pub broadcast: Option<String>,
    pub peer: Option<String>,
}

/// `aa:bb:...` from the hardware address bytes; psutil pads a short one with `:00` up to
/// six groups. None for an empty address, which psutil skips.
pub fn format_mac(bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() {
        return None;
    }
    let mut groups: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    while groups.len() < 6 {
        groups.push("00".into());
    }
    Some(groups.join(":"))
}

/// An IP address as getnameinfo(NI_NUMERICHOST) prints it: an IPv6 link-local address
/// carries its interface as `%name` (getifaddrs sets the scope only on those), the name
/// escaped as in its label.
pub fn format_ip(ip: IpAddr, interface: &OsStr) -> String {
    match ip {
        IpAddr::V6(v6) if is_link_local(&v6) => format!("{v6}%{}", escape_os(interface)),
        ip => ip.to_string(),
    }
}

fn is_link_local(ip: &Ipv6Addr) -> bool {
    let s = ip.segments()[0];
    (s & 0xffc0) == 0xfe80 || (s & 0xff0f) == 0xff02
}

/// An IPv6 netmask from a prefix length.
pub fn ipv6_netmask(prefix_len: u8) -> Ipv6Addr {
    let bits = u32::from(prefix_len.min(128));
    Ipv6Addr::from(u128::MAX.checked_shl(128 - bits).unwrap_or(0))
}

/// The link-layer entry from sysfs `address`, `broadcast` and `flags` text: what
/// getifaddrs reports for AF_PACKET. `broadcast` holds the peer's address on a
/// point-to-point link.
pub fn link_addr_from_sysfs(
    interface: &OsStr,
    address: &str,
    broadcast: &str,
    flags: u32,
) -> Option<IfAddr> {
    let mac = parse_mac(address)?;
    let other = parse_mac(broadcast).and_then(|b| format_mac(&b));
    Some(IfAddr {
        interface: interface.to_os_string(),
        family: Family::Link,
        address: format_mac(&mac)?,
        netmask: None,
        broadcast: other.clone().filter(|_| flags & IFF_BROADCAST != 0),
        peer: other.filter(|_| flags & IFF_BROADCAST == 0 && flags & IFF_POINTOPOINT != 0),
    })
}

fn parse_mac(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    t.split(':')
        .map(|g| u8::from_str_radix(g, 16).ok())
        .collect()
}

/// IPv6 entries from `/proc/net/if_inet6`; getifaddrs gives no broadcast for IPv6.
pub fn ipv6_addrs(lines: &[Inet6Addr]) -> Vec<IfAddr> {
    lines
        .iter()
        .map(|a| IfAddr {
            interface: a.interface.clone(),
            family: Family::Ipv6,
            address: format_ip(IpAddr::V6(a.address), &a.interface),
            netmask: Some(ipv6_netmask(a.prefix_len).to_string()),
            broadcast: None,
            peer: None,
        })
        .collect()
}

/// The kernel's name of an interface getifaddrs reported: nix converts names to `String`
/// lossily, so a name holding U+FFFD is looked up among the names the kernel listed
/// (`known`, from /proc/net/dev). None when no known name, or more than one, converts to it.
pub fn real_name(lossy: &str, known: &[OsString]) -> Option<OsString> {
    if !lossy.contains(char::REPLACEMENT_CHARACTER) {
        return Some(lossy.into());
    }
    let mut matches = known.iter().filter(|k| k.to_string_lossy() == lossy);
    match (matches.next(), matches.next()) {
        (Some(name), None) => Some(name.clone()),
        _ => None,
    }
}

/// The live kernel's addresses through getifaddrs(3), as psutil's `net_if_addrs()`:
/// AF_INET, AF_INET6 and AF_PACKET entries; an entry without an address, or with an empty
/// hardware address, is skipped. Interface names are resolved by [`real_name`]; the
/// (lossy) names of interfaces left out because that failed are returned beside the entries.
pub fn getifaddrs(known: &[OsString]) -> std::io::Result<(Vec<IfAddr>, Vec<String>)> {
    use nix::sys::socket::SockaddrStorage;
    let format = |a: &SockaddrStorage, interface: &OsStr| -> Option<(Family, String)> {
        if let Some(v4) = a.as_sockaddr_in() {
            Some((Family::Ipv4, format_ip(IpAddr::V4(v4.ip()), interface)))
        } else if let Some(v6) = a.as_sockaddr_in6() {
            Some((Family::Ipv6, format_ip(IpAddr::V6(v6.ip()), interface)))
        } else {
            let link = a.as_link_addr()?;
            let bytes = link.addr()?;
            Some((Family::Link, format_mac(&bytes[..link.halen().min(6)])?))
        }
    };
    let mut out = Vec::new();
    let mut unresolved = Vec::new();
    for ifa in nix::ifaddrs::getifaddrs().map_err(std::io::Error::from)? {
        let Some(name) = real_name(&ifa.interface_name, known) else {
            if !unresolved.contains(&ifa.interface_name) {
                unresolved.push(ifa.interface_name);
            }
            continue;
        };
        let Some((family, address)) = ifa.address.as_ref().and_then(|a| format(a, &name)) else {
            continue;
        };
        // Only the same family's text is kept, as psutil converts every field with the
        // family of the address.
        let same = |a: &Option<SockaddrStorage>| {
            a.as_ref()
                .and_then(|a| format(a, &name))
                .filter(|(f, _)| *f == family)
                .map(|(_, text)| text)
        };
        // nix files the shared broadcast/destination field by IFF_POINTOPOINT first;
        // psutil looks at IFF_BROADCAST first.
        let flags = ifa.flags.bits() as u32;
        let other = same(&ifa.broadcast).or_else(|| same(&ifa.destination));
        out.push(IfAddr {
            netmask: same(&ifa.netmask),
            broadcast: other.clone().filter(|_| flags & IFF_BROADCAST != 0),
            peer: other.filter(|_| flags & IFF_BROADCAST == 0 && flags & IFF_POINTOPOINT != 0),
            interface: name,
            family,
            address,
        });
    }
    Ok((out, unresolved))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_is_up_and_operationally_up_or_unknown() {
        assert!(is_running(0x1003, "up\n"));
        assert!(is_running(0x9, "unknown\n"), "loopback");
        assert!(!is_running(0x1003, "down\n"), "no carrier");
        assert!(!is_running(0x1002, "up\n"), "administratively down");
        assert!(!is_running(0x1003, "dormant\n"));
    }

    #[test]
    fn sysfs_values() {
        assert_eq!(parse_flags("0x1003\n"), Ok(0x1003));
        assert!(parse_flags("up").is_err());
        assert_eq!(parse_speed("1000\n"), 1000);
        assert_eq!(parse_speed("-1\n"), 0);
        assert_eq!(parse_speed("4294967295\n"), 0);
        assert_eq!(parse_duplex("full\n"), Duplex::Full);
        assert_eq!(parse_duplex("unknown\n"), Duplex::Unknown);
    }

    #[test]
    fn fixture_tree() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/modern");
        let paths = HostPaths::under(&root);
        let eth0 = read_nic_stats(&paths, "eth0".as_ref()).unwrap().unwrap();
        assert_eq!(
            eth0,
            NicStats {
                isup: true,
                duplex: Duplex::Full,
                speed_mbps: 1000,
                mtu: 1500
            }
        );
        let lo = read_nic_stats(&paths, "lo".as_ref()).unwrap().unwrap();
        assert!(lo.isup);
        assert_eq!(
            (lo.speed_mbps, lo.duplex, lo.mtu),
            (0, Duplex::Unknown, 65536)
        );
        assert!(
            !read_nic_stats(&paths, "wlan0".as_ref())
                .unwrap()
                .unwrap()
                .isup
        );
        assert_eq!(read_nic_stats(&paths, "gone0".as_ref()).unwrap(), None);
    }

    #[test]
    fn a_name_that_is_not_utf8_names_its_sysfs_directory() {
        use std::os::unix::ffi::OsStrExt;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/non-utf8");
        let paths = HostPaths::under(&root);
        let name = OsStr::from_bytes(b"\xe9th0");
        let s = read_nic_stats(&paths, name).unwrap().unwrap();
        assert_eq!((s.isup, s.speed_mbps, s.mtu), (true, 1000, 1500));
        assert_eq!(
            format_ip("fe80::1".parse().unwrap(), name),
            r"fe80::1%\xe9th0"
        );
    }

    #[test]
    fn lossy_getifaddrs_names_are_resolved_from_the_kernel_list() {
        use std::os::unix::ffi::OsStringExt;
        let known: Vec<OsString> = [&b"eth0"[..], b"\xe9th0", b"\xe9th1", b"\xe8th1"]
            .iter()
            .map(|b| OsString::from_vec(b.to_vec()))
            .collect();
        assert_eq!(real_name("eth0", &known), Some("eth0".into()));
        assert_eq!(
            real_name("new0", &known),
            Some("new0".into()),
            "not looked up"
        );
        assert_eq!(real_name("\u{fffd}th0", &known), Some(known[1].clone()));
        assert_eq!(real_name("\u{fffd}th1", &known), None, "ambiguous");
        assert_eq!(real_name("\u{fffd}th2", &known), None, "unknown");
    }

    #[test]
    fn formatting_matches_psutil() {
        assert_eq!(
            format_mac(&[0x52, 0x54, 0, 0x12, 0x34, 0x56]).unwrap(),
            "52:54:00:12:34:56"
        );
        assert_eq!(format_mac(&[1, 2]).unwrap(), "01:02:00:00:00:00");
        assert_eq!(format_mac(&[]), None);
        assert_eq!(
            format_ip("fe80::1".parse().unwrap(), "eth0".as_ref()),
            "fe80::1%eth0"
        );
        assert_eq!(
            format_ip("2001:db8::5".parse().unwrap(), "eth0".as_ref()),
            "2001:db8::5"
        );
        assert_eq!(ipv6_netmask(64).to_string(), "ffff:ffff:ffff:ffff::");
        assert_eq!(
            ipv6_netmask(128).to_string(),
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        );
        assert_eq!(ipv6_netmask(0).to_string(), "::");
    }

    #[test]
    fn link_addresses_from_sysfs() {
        let eth = link_addr_from_sysfs(
            "eth0".as_ref(),
            "52:54:00:12:34:56\n",
            "ff:ff:ff:ff:ff:ff\n",
            0x1003,
        )
        .unwrap();
        assert_eq!(eth.broadcast.as_deref(), Some("ff:ff:ff:ff:ff:ff"));
        assert_eq!(eth.peer, None);
        let lo = link_addr_from_sysfs("lo".as_ref(), "00:00:00:00:00:00", "00:00:00:00:00:00", 0x9)
            .unwrap();
        assert_eq!((lo.broadcast, lo.peer), (None, None));
        assert_eq!(
            link_addr_from_sysfs("tun0".as_ref(), "\n", "\n", 0x10d1),
            None
        );
    }
}
