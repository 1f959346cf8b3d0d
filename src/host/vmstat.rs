//! `/proc/vmstat`: `name value` pairs.

use std::collections::HashMap;

use super::{ParseError, num};

pub fn parse_vmstat(text: &str) -> Result<HashMap<&str, u64>, ParseError> {
    let mut map = HashMap::new();
    for line in text.lines() {
        let mut words = line.split_ascii_whitespace();
        let (Some(key), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        map.insert(key, num(value, key)?);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    #[test]
    fn pairs() {
        let m = super::parse_vmstat("nr_free_pages 10\npswpin 3\npswpout 4\n").unwrap();
        assert_eq!((m["pswpin"], m["pswpout"]), (3, 4));
        assert!(super::parse_vmstat("pswpin x\n").is_err());
    }

    #[test]
    fn fixture_tree() {
        let m =
            super::parse_vmstat(include_str!("../../tests/fixtures/modern/proc/vmstat")).unwrap();
        assert_eq!((m["pswpin"], m["pswpout"]), (12011, 98022));
    }
}
