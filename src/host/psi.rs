//! Pressure stall information: `/proc/pressure/{cpu,memory,io,irq}` and a cgroup's
//! `{cpu,memory,io}.pressure`. Each line is `some|full avg10=.. avg60=.. avg300=.. total=N`;
//! only `total` (microseconds stalled since boot or since the cgroup was created) is kept:
//! the averages are derived by queries.

use super::ParseError;

/// The `total` of each line, in microseconds; a line the file does not have is `None`
/// (`irq` has only `full`; `cpu` has `full` since Linux 5.13).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pressure {
    pub some: Option<u64>,
    pub full: Option<u64>,
}

impl Pressure {
    /// (`some`/`full`, total) for the lines present.
    pub fn kinds(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [("some", self.some), ("full", self.full)]
            .into_iter()
            .filter_map(|(k, v)| Some((k, v?)))
    }
}

pub fn parse_pressure(text: &[u8]) -> Result<Pressure, ParseError> {
    let mut out = Pressure::default();
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let mut words = super::words(line);
        let slot = match words.next() {
            Some(b"some") => &mut out.some,
            Some(b"full") => &mut out.full,
            _ => continue,
        };
        let total = words
            .find_map(|w| w.strip_prefix(b"total="))
            .ok_or_else(|| ParseError("pressure line without total=".into()))?;
        *slot = Some(super::cgroup::parse_u64(total).ok_or_else(|| {
            ParseError(format!(
                "pressure total {:?} is not a number",
                String::from_utf8_lossy(total)
            ))
        })?);
    }
    if out.some.is_none() && out.full.is_none() {
        return Err(ParseError("no some or full line".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_of_some_and_full() {
        let p = parse_pressure(
            b"some avg10=2.10 avg60=3.05 avg300=2.96 total=20546371\n\
              full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
        )
        .unwrap();
        assert_eq!(
            p,
            Pressure {
                some: Some(20546371),
                full: Some(0)
            }
        );
        let irq = parse_pressure(b"full avg10=0.00 avg60=0.00 avg300=0.00 total=12\n").unwrap();
        assert_eq!(irq.kinds().collect::<Vec<_>>(), [("full", 12)]);
        assert!(parse_pressure(b"some avg10=1\n").is_err());
        assert!(parse_pressure(b"some total=x\n").is_err());
        assert!(parse_pressure(b"").is_err());
    }
}
