//! The files of one cgroup v2 directory (the kernel's `Documentation/admin-guide/cgroup-v2.rst`
//! formats): flat keyed files (`cpu.stat`, `memory.stat`, `memory.events`), single values
//! that may be `max` (`memory.max`, `pids.max`), `cpu.max`, the nested keyed `io.stat`, and
//! `cgroup.procs`. Pure functions of the bytes, allocation free: the collector reads every
//! file into one reused buffer and keeps only numbers.

use super::ParseError;

/// A decimal number with surrounding ASCII whitespace; `None` when it is not one.
pub fn parse_u64(bytes: &[u8]) -> Option<u64> {
    let digits = bytes.trim_ascii();
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

fn number(bytes: &[u8], what: &str) -> Result<u64, ParseError> {
    parse_u64(bytes).ok_or_else(|| {
        ParseError(format!(
            "{what}: {:?} is not a number",
            String::from_utf8_lossy(&bytes[..bytes.len().min(64)])
        ))
    })
}

/// A value that may be `max` (no limit): `memory.max`, `memory.high`, `memory.swap.max`,
/// `pids.max`, `cpu.weight`. `None` is `max`.
pub fn parse_limit(bytes: &[u8]) -> Result<Option<u64>, ParseError> {
    match bytes.trim_ascii() {
        b"max" => Ok(None),
        v => number(v, "limit").map(Some),
    }
}

/// `cpu.max`: `$MAX $PERIOD`, quota and period in microseconds; the quota is `None` for
/// `max` (no limit).
pub fn parse_cpu_max(bytes: &[u8]) -> Result<(Option<u64>, u64), ParseError> {
    let mut words = super::words(bytes);
    let (Some(max), Some(period), None) = (words.next(), words.next(), words.next()) else {
        return Err(ParseError("cpu.max is not \"$MAX $PERIOD\"".into()));
    };
    Ok((parse_limit(max)?, number(period, "cpu.max period")?))
}

/// The values of `keys` in a flat keyed file (`key value` lines), in the order of `keys`;
/// a key the file does not have is `None`, keys not asked for are ignored.
pub fn pick<const N: usize>(
    bytes: &[u8],
    keys: &[&[u8]; N],
) -> Result<[Option<u64>; N], ParseError> {
    let mut out = [None; N];
    for line in bytes.split(|&b| b == b'\n') {
        let mut words = super::words(line);
        let (Some(key), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        if let Some(i) = keys.iter().position(|k| *k == key) {
            out[i] = Some(number(value, "flat keyed value")?);
        }
    }
    Ok(out)
}

/// One device's line of `io.stat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoLine {
    pub major: u32,
    pub minor: u32,
    pub rbytes: u64,
    pub wbytes: u64,
    pub rios: u64,
    pub wios: u64,
}

/// `io.stat`: `MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=.. dbytes=.. dios=..` per device,
/// into `out` (emptied first, reused across cgroups). Keys other than the four read and
/// written ones are ignored; a missing one is 0, as the kernel omits nothing it counts.
pub fn parse_io_stat(bytes: &[u8], out: &mut Vec<IoLine>) -> Result<(), ParseError> {
    out.clear();
    for line in bytes.split(|&b| b == b'\n') {
        let mut words = super::words(line);
        let Some(dev) = words.next() else { continue };
        let mut numbers = dev.splitn(2, |&b| b == b':');
        let (Some(major), Some(minor)) = (numbers.next(), numbers.next()) else {
            return Err(ParseError(
                "io.stat line does not start with MAJ:MIN".into(),
            ));
        };
        let device = |n: &[u8]| {
            number(n, "io.stat device").and_then(|n| {
                u32::try_from(n).map_err(|_| ParseError("io.stat device number too large".into()))
            })
        };
        let mut io = IoLine {
            major: device(major)?,
            minor: device(minor)?,
            ..IoLine::default()
        };
        for word in words {
            let Some(eq) = word.iter().position(|&b| b == b'=') else {
                continue;
            };
            let (key, value) = (&word[..eq], &word[eq + 1..]);
            let slot = match key {
                b"rbytes" => &mut io.rbytes,
                b"wbytes" => &mut io.wbytes,
                b"rios" => &mut io.rios,
                b"wios" => &mut io.wios,
                _ => continue,
            };
            *slot = number(value, "io.stat value")?;
        }
        out.push(io);
    }
    Ok(())
}

/// Lines of `cgroup.procs`: the processes in the cgroup (its own, not its descendants').
pub fn count_lines(bytes: &[u8]) -> u64 {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.trim_ascii().is_empty())
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_limits() {
        assert_eq!(parse_u64(b" 42\n"), Some(42));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_limit(b"max\n").unwrap(), None);
        assert_eq!(parse_limit(b"1073741824\n").unwrap(), Some(1 << 30));
        assert!(parse_limit(b"lots").is_err());
    }

    #[test]
    fn cpu_max() {
        assert_eq!(parse_cpu_max(b"max 100000\n").unwrap(), (None, 100000));
        assert_eq!(
            parse_cpu_max(b"50000 100000\n").unwrap(),
            (Some(50000), 100000)
        );
        assert!(parse_cpu_max(b"50000\n").is_err());
        assert!(parse_cpu_max(b"1 2 3").is_err());
    }

    #[test]
    fn flat_keyed_cpu_stat() {
        let text = b"usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 7\n\
                     nr_throttled 2\nthrottled_usec 900\nnr_bursts 0\nburst_usec 0\n";
        let [usage, user, throttled, missing] = pick(
            text,
            &[b"usage_usec", b"user_usec", b"throttled_usec", b"nope"],
        )
        .unwrap();
        assert_eq!(
            (usage, user, throttled, missing),
            (Some(1500), Some(1000), Some(900), None)
        );
        assert!(pick(b"user_usec x\n", &[b"user_usec"]).is_err());
        assert!(
            pick(b"other x\n", &[b"user_usec"]).is_ok(),
            "keys not asked for are not parsed"
        );
    }

    #[test]
    fn io_stat_per_device() {
        let mut out = Vec::new();
        parse_io_stat(
            b"8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n\
              259:1 rbytes=1 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n",
            &mut out,
        )
        .unwrap();
        assert_eq!(
            out,
            [
                IoLine {
                    major: 8,
                    minor: 0,
                    rbytes: 4096,
                    wbytes: 8192,
                    rios: 1,
                    wios: 2
                },
                IoLine {
                    major: 259,
                    minor: 1,
                    rbytes: 1,
                    rios: 1,
                    ..IoLine::default()
                },
            ]
        );
        parse_io_stat(b"", &mut out).unwrap();
        assert!(out.is_empty());
        assert!(parse_io_stat(b"sda rbytes=1\n", &mut out).is_err());
        assert!(parse_io_stat(b"8:0 rbytes=x\n", &mut out).is_err());
    }

    #[test]
    fn procs() {
        assert_eq!(count_lines(b"1\n22\n333\n"), 3);
        assert_eq!(count_lines(b""), 0);
    }
}
