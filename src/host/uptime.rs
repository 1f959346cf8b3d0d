//! `/proc/uptime`: seconds since boot (suspended time included) and the idle seconds summed
//! over CPUs; vitals uses the first.

use super::{ParseError, num};

/// The first number of `/proc/uptime` (`12345.67 45678.90`): seconds since boot.
pub fn parse_uptime(text: &str) -> Result<f64, ParseError> {
    let first = text
        .split_ascii_whitespace()
        .next()
        .ok_or_else(|| ParseError("empty /proc/uptime".into()))?;
    num(first, "uptime")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_is_the_first_number() {
        assert_eq!(parse_uptime("12345.67 45678.90\n"), Ok(12345.67));
        assert!(parse_uptime("").is_err());
        assert!(parse_uptime("up 3 days\n").is_err());
    }
}
