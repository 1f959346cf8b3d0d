//! Include/exclude filters on names (devices, mount points, interfaces), configured as
//! regular expressions. A pattern is compiled while the config is parsed, so a bad one is
//! reported with its key, line and column.

use regex::Regex;
use serde::{Deserialize, Deserializer};

/// A regular expression that must match the whole name (it is anchored).
#[derive(Debug, Clone)]
pub struct Pattern(Regex);

impl Pattern {
    pub fn new(pattern: &str) -> Result<Pattern, regex::Error> {
        Regex::new(&format!("^(?:{pattern})$")).map(Pattern)
    }

    pub fn is_match(&self, name: &str) -> bool {
        self.0.is_match(name)
    }

    /// The pattern as written in the config.
    pub fn as_str(&self) -> &str {
        let s = self.0.as_str();
        s.strip_prefix("^(?:")
            .and_then(|s| s.strip_suffix(")$"))
            .unwrap_or(s)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Pattern::new(&s)
            .map_err(|e| serde::de::Error::custom(format!("invalid regular expression {s:?}: {e}")))
    }
}

/// Keeps a name when it matches `include` (or there is none) and does not match `exclude`.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Filter {
    pub include: Option<Pattern>,
    pub exclude: Option<Pattern>,
}

impl Filter {
    /// A filter from literal patterns, for defaults; panics only on a bad literal, which the
    /// default-config test catches.
    pub fn new(include: Option<&str>, exclude: Option<&str>) -> Filter {
        let compile =
            |p: &str| Pattern::new(p).unwrap_or_else(|e| panic!("built-in pattern {p:?}: {e}"));
        Filter {
            include: include.map(compile),
            exclude: exclude.map(compile),
        }
    }

    pub fn allows(&self, name: &str) -> bool {
        self.include.as_ref().is_none_or(|p| p.is_match(name))
            && !self.exclude.as_ref().is_some_and(|p| p.is_match(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_then_exclude_anchored() {
        let f = Filter::new(Some("sd[a-z]+|nvme\\d+n\\d+"), Some("sdz"));
        assert!(f.allows("sda"));
        assert!(f.allows("nvme0n1"));
        assert!(
            !f.allows("sda1"),
            "anchored: a partition does not match the disk pattern"
        );
        assert!(!f.allows("sdz"));
        assert!(Filter::default().allows("anything"));
        assert_eq!(
            f.include.as_ref().map(Pattern::as_str),
            Some("sd[a-z]+|nvme\\d+n\\d+")
        );
    }

    #[test]
    fn a_bad_pattern_names_its_line() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct T {
            f: Filter,
        }
        let err = toml::from_str::<T>("[f]\ninclude = \"sd(\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("invalid regular expression"),
            "{err}"
        );
    }
}
