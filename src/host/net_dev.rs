//! `/proc/net/dev`: per-interface receive and transmit counters, as psutil's
//! `net_io_counters(pernic=True)` reads them.

use super::{ParseError, num};

/// The sixteen counters of one line, in the file's order: receive bytes, packets, errs,
/// drop, fifo, frame, compressed, multicast; then transmit bytes, packets, errs, drop,
/// fifo, colls, carrier, compressed.
pub const FIELDS: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetDev {
    pub name: String,
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

/// Parses the whole file. Like psutil, the two header lines are skipped and the name is
/// everything before the last `:` (an alias such as `eth0:1` keeps its colon; the kernel
/// writes no space after the name when it is 16 characters long).
pub fn parse_net_dev(text: &str) -> Result<Vec<NetDev>, ParseError> {
    let mut out = Vec::new();
    for line in text.lines().skip(2) {
        if line.trim().is_empty() {
            continue;
        }
        let colon = line
            .rfind(':')
            .ok_or_else(|| ParseError(format!("no ':' in {line:?}")))?;
        let name = line[..colon].trim();
        if name.is_empty() {
            return Err(ParseError(format!("no interface name in {line:?}")));
        }
        let mut counters = [0u64; FIELDS];
        let mut fields = line[colon + 1..].split_whitespace();
        for (slot, (_, direction)) in counters.iter_mut().zip(LAYOUT) {
            let field = fields.next().ok_or_else(|| {
                ParseError(format!(
                    "{name}: fewer than {FIELDS} counters ({direction})"
                ))
            })?;
            *slot = num(field, name)?;
        }
        out.push(NetDev {
            name: name.to_string(),
            counters,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modern_fixture() {
        let devs = parse_net_dev(include_str!("../../tests/fixtures/modern/proc/net/dev")).unwrap();
        let lo = devs.iter().find(|d| d.name == "lo").unwrap();
        assert_eq!(lo.counters[0], 2_236_114);
        assert_eq!(lo.counters[8], 2_236_114);
        assert!(devs.iter().any(|d| d.name == "eth0"));
    }

    #[test]
    fn aliases_long_names_and_huge_counters() {
        let devs = parse_net_dev(include_str!(
            "../../tests/fixtures/network-edge/proc/net/dev"
        ))
        .unwrap();
        let names: Vec<&str> = devs.iter().map(|d| d.name.as_str()).collect();
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
        assert!(parse_net_dev(&format!("{head}eth0: 1 2 3\n")).is_err());
        assert!(parse_net_dev(&format!("{head}eth0 1 2\n")).is_err());
        assert!(parse_net_dev(&format!("{head}eth0: {}\n", "x ".repeat(16))).is_err());
        assert_eq!(parse_net_dev(head).unwrap(), vec![]);
    }
}
