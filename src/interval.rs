//! Durations in the config: `"500ms"`, `"5s"`, `"1m"`, `"1h"`, within [`Interval::MIN`] and
//! [`Interval::MAX`], so that nothing later (a timer, a staleness product, a semaphore) can be
//! handed a value it chokes on.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A duration written as a whole number and a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval(pub Duration);

impl Interval {
    /// Shortest accepted: below it a collector would spend more time being scheduled than
    /// reading, and its logs would flood.
    pub const MIN: Duration = Duration::from_millis(100);
    /// Longest accepted: a day. Longer is a typo (`"999999999999h"`), and products such as
    /// interval x stale_after must stay far from overflowing.
    pub const MAX: Duration = Duration::from_secs(24 * 3600);

    pub const fn secs(s: u64) -> Self {
        Self(Duration::from_secs(s))
    }
}

impl FromStr for Interval {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let shown = crate::shorten::quote(s);
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (digits, unit) = s.split_at(split);
        let n: u64 = digits.parse().map_err(|_| {
            format!("invalid duration {shown}: expected a whole number and a unit, like \"5s\"")
        })?;
        let per_unit_ms: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => {
                return Err(format!(
                    "invalid duration {shown}: the unit must be ms, s, m or h"
                ));
            }
        };
        let out_of_range = || {
            format!(
                "duration {shown} is out of range: it must be between {} and {}",
                Interval(Self::MIN),
                Interval(Self::MAX)
            )
        };
        let ms = n.checked_mul(per_unit_ms).ok_or_else(out_of_range)?;
        let d = Duration::from_millis(ms);
        if d < Self::MIN || d > Self::MAX {
            return Err(out_of_range());
        }
        Ok(Interval(d))
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(3_600_000) && ms > 0 {
            write!(f, "{}h", ms / 3_600_000)
        } else if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(
            "500ms".parse::<Interval>().unwrap().0,
            Duration::from_millis(500)
        );
        assert_eq!(
            "2m".parse::<Interval>().unwrap().0,
            Duration::from_secs(120)
        );
        assert_eq!("24h".parse::<Interval>().unwrap(), Interval(Interval::MAX));
        assert!("-1s".parse::<Interval>().is_err());
        assert!("5".parse::<Interval>().is_err());
        assert_eq!(Interval::secs(5).to_string(), "5s");
        assert_eq!(Interval::secs(7200).to_string(), "2h");
        assert_eq!(Interval(Duration::from_millis(250)).to_string(), "250ms");
    }

    #[test]
    fn out_of_range_values_are_errors_not_panics() {
        for s in [
            "0s",
            "99ms",
            "1ms",
            "25h",
            "999999999999h",
            "18446744073709551615s",
            "18446744073709551615ms",
            "99999999999999999999999s",
        ] {
            let err = s.parse::<Interval>().unwrap_err();
            assert!(
                err.contains("out of range") || err.contains("whole number"),
                "{s}: {err}"
            );
        }
    }
}
