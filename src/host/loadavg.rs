//! Load averages: `os.getloadavg()`, which glibc answers from sysinfo(2); `/proc/loadavg`
//! (rounded to two decimals) for fixture trees.

use super::{ParseError, num};

/// The kernel's load averages as glibc's getloadavg() returns them.
pub fn from_sysinfo() -> [f64; 3] {
    // sysinfo(2) scales loads by 1 << SI_LOAD_SHIFT (16).
    rustix::system::sysinfo().loads.map(|l| l as f64 / 65536.0)
}

pub fn parse_loadavg(text: &str) -> Result<[f64; 3], ParseError> {
    let mut words = text.split_ascii_whitespace();
    let mut out = [0.0; 3];
    for (slot, what) in out.iter_mut().zip(["1m", "5m", "15m"]) {
        let w = words
            .next()
            .ok_or_else(|| ParseError(format!("load average {what} missing")))?;
        *slot = num(w, what)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn three_averages() {
        assert_eq!(
            super::parse_loadavg("1.33 0.44 0.16 1/79 4032\n").unwrap(),
            [1.33, 0.44, 0.16]
        );
        assert!(super::parse_loadavg("1.0 x").is_err());
    }

    #[test]
    fn fixture_tree() {
        let l =
            super::parse_loadavg(include_str!("../../tests/fixtures/legacy/proc/loadavg")).unwrap();
        assert_eq!(l, [3.10, 2.05, 1.00]);
    }
}
