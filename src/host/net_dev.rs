//! `/proc/net/dev`: per-interface receive and transmit counters, as psutil's
//! `net_io_counters(pernic=True)` reads them.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use super::{ParseError, num};

/// The sixteen counters of one line, in the file's order: receive bytes, packets, errs,
/// drop, fifo, frame, compressed, multicast; then transmit bytes, packets, errs, drop,
/// fifo, colls, carrier, compressed.
pub const FIELDS: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetDev {
    /// The kernel's name, bytes that need not be UTF-8; a path component under
    /// `/sys/class/net`, and a label through [`super::bytes::escape_os`].
    pub name: OsString,
    pub counters: [u64; FIELDS],
}

/// What each counter is, by position: (metric, direction) in vitals' terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Bytes,
    Packets,
    Errors,
    Dropped,
    Fifo,
    Frame,
    Compressed,
    Multicast,
    Collisions,
    Carrier,
}

/// Position -> (field, direction) for the sixteen columns.
pub const LAYOUT: [(Field, &str); FIELDS] = [
    (Field::Bytes, "receive"),
    (Field::Packets, "receive"),
    (Field::Errors, "receive"),
    (Field::Dropped, "receive"),
    (Field::Fifo, "receive"),
    (Field::Frame, "receive"),
    (Field::Compressed, "receive"),
    (Field::Multicast, "receive"),
    (Field::Bytes, "transmit"),
    (Field::Packets, "transmit"),
    (Field::Errors, "transmit"),
    (Field::Dropped, "transmit"),
    (Field::Fifo, "transmit"),
    (Field::Collisions, "transmit"),
    (Field::Carrier, "transmit"),
    (Field::Compressed, "transmit"),
];

/// The most interfaces vitals takes from one table; more is a parse error. Far above real
/// hosts (a Kubernetes node has hundreds of veths, a router 4,094 VLANs per trunk), and
/// each interface is some twenty series, so a longer table is broken or hostile.
pub const MAX_INTERFACES: usize = 65_536;

/// Parses the whole file, of at most [`MAX_INTERFACES`] interfaces. Like psutil, the two header lines are skipped and the name is
/// everything before the last `:`, stripped (an alias such as `eth0:1` keeps its colon; the
/// kernel writes no space after the name when it is 16 characters long). The name is kept
/// as bytes: the kernel accepts any byte but `/`, `:`, NUL and whitespace in it.
pub fn parse_net_dev(text: &[u8]) -> Result<Vec<NetDev>, ParseError> {
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n').skip(2) {
        if line.trim_ascii().is_empty() {
            continue;
        }
        let shown = || String::from_utf8_lossy(line);
        let colon = line
            .iter()
            .rposition(|&b| b == b':')
            .ok_or_else(|| ParseError(format!("no ':' in {:?}", shown())))?;
        let name = super::strip(&line[..colon]);
        if name.is_empty() {
            return Err(ParseError(format!("no interface name in {:?}", shown())));
        }
        if out.len() == MAX_INTERFACES {
            return Err(ParseError(format!("more than {MAX_INTERFACES} interfaces")));
        }
        let what = super::bytes::escape(name);
        let fields = std::str::from_utf8(&line[colon + 1..])
            .map_err(|_| ParseError(format!("{what}: counters are not text")))?;
        let mut counters = [0u64; FIELDS];
        let mut fields = fields.split_whitespace();
        for (slot, (_, direction)) in counters.iter_mut().zip(LAYOUT) {
            let field = fields.next().ok_or_else(|| {
                ParseError(format!(
                    "{what}: fewer than {FIELDS} counters ({direction})"
                ))
            })?;
            *slot = num(field, &what)?;
        }
        out.push(NetDev {
            name: OsString::from_vec(name.to_vec()),
            counters,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    use super::*;

    #[test]
    fn modern_fixture() {
        let devs =
            parse_net_dev(include_bytes!("../../tests/fixtures/modern/proc/net/dev")).unwrap();
        let lo = devs.iter().find(|d| d.name == "lo").unwrap();
        assert_eq!(lo.counters[0], 2_236_114);
        assert_eq!(lo.counters[8], 2_236_114);
        assert!(devs.iter().any(|d| d.name == "eth0"));
    }

    #[test]
    fn aliases_long_names_and_huge_counters() {
        let devs = parse_net_dev(include_bytes!(
            "../../tests/fixtures/network-edge/proc/net/dev"
        ))
        .unwrap();
        let names: Vec<&OsStr> = devs.iter().map(|d| d.name.as_os_str()).collect();
        assert_eq!(
            names,
            ["lo", "eth0:1", "averyveryverylon", "veth1a2b3c4", "wg0"]
        );
        // A 16-character name touches its colon; the counters still split.
        assert_eq!(devs[2].counters[1], 7);
        // Counters near 2^64 are kept exactly (no float on the way).
        assert_eq!(devs[1].counters[0], 18_446_744_073_709_551_000);
        assert_eq!(devs[1].counters[8], 18_446_744_073_709_551_615);
    }

    #[test]
    fn short_or_bad_lines_are_errors() {
        let head = "h1\nh2\n";
        let parse = |t: String| parse_net_dev(t.as_bytes());
        assert!(parse(format!("{head}eth0: 1 2 3\n")).is_err());
        assert!(parse(format!("{head}eth0 1 2\n")).is_err());
        assert!(parse(format!("{head}eth0: {}\n", "x ".repeat(16))).is_err());
        assert!(
            parse_net_dev(b"h1\nh2\neth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 \xff\n").is_err()
        );
        assert_eq!(parse(head.to_string()).unwrap(), vec![]);
    }

    #[test]
    fn names_are_bytes() {
        let devs =
            parse_net_dev(include_bytes!("../../tests/fixtures/non-utf8/proc/net/dev")).unwrap();
        let names: Vec<&[u8]> = devs.iter().map(|d| d.name.as_bytes()).collect();
        assert_eq!(
            names,
            [&b"lo"[..], b"\xe9th0", "café".as_bytes(), br"br\x41"]
        );
        assert_eq!(devs[1].counters[0], 9_081_726);
    }
}
