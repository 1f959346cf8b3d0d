//! `/proc/meminfo` and `/proc/zoneinfo`, and psutil's `virtual_memory()` arithmetic on them.

use std::collections::HashMap;

use super::{ParseError, num};

/// Every `/proc/meminfo` field in bytes (psutil multiplies every value by 1024).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Meminfo(pub HashMap<String, u64>);

impl Meminfo {
    pub fn get(&self, key: &str) -> Option<u64> {
        self.0.get(key).copied()
    }
}

pub fn parse_meminfo(text: &str) -> Result<Meminfo, ParseError> {
    let mut map = HashMap::new();
    for line in text.lines() {
        let mut words = line.split_ascii_whitespace();
        let (Some(key), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        let key = key.strip_suffix(':').unwrap_or(key);
        let kib: u64 = num(value, key)?;
        map.insert(key.to_string(), kib.saturating_mul(1024));
    }
    if !map.contains_key("MemTotal") || !map.contains_key("MemFree") {
        return Err(ParseError("MemTotal or MemFree missing".into()));
    }
    Ok(Meminfo(map))
}

/// Sum of the `low` watermarks of all zones, in pages.
pub fn parse_zoneinfo_low(text: &str) -> Result<u64, ParseError> {
    let mut pages = 0u64;
    for line in text.lines().map(str::trim_start) {
        if line.starts_with("low")
            && let Some(v) = line.split_ascii_whitespace().nth(1)
        {
            pages = pages.saturating_add(num(v, "zoneinfo low")?);
        }
    }
    Ok(pages)
}

/// psutil 7.2.2 `virtual_memory()`, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VirtualMemory {
    pub total: u64,
    pub available: u64,
    pub used: u64,
    pub free: u64,
    pub active: u64,
    pub inactive: u64,
    pub buffers: u64,
    pub cached: u64,
    pub shared: u64,
    pub slab: u64,
    pub slab_reclaimable: u64,
    pub slab_unreclaimable: u64,
}

/// True when psutil would estimate `available` (MemAvailable missing or zero), which needs
/// the zoneinfo watermarks.
pub fn needs_zoneinfo(m: &Meminfo) -> bool {
    m.get("MemAvailable").unwrap_or(0) == 0
}

/// psutil's arithmetic: cached includes SReclaimable, used = total - available, and
/// available is estimated the kernel's way when MemAvailable is missing or zero.
/// `zone_low_bytes` is the zoneinfo low watermark sum in bytes, if it could be read.
pub fn virtual_memory(m: &Meminfo, zone_low_bytes: Option<u64>) -> VirtualMemory {
    let g = |k: &str| m.get(k).unwrap_or(0);
    let total = g("MemTotal");
    let free = g("MemFree");
    let cached = match m.get("Cached") {
        Some(c) => c + g("SReclaimable"),
        None => 0,
    };
    let shared = m.get("Shmem").or_else(|| m.get("MemShared")).unwrap_or(0);
    let inactive = m.get("Inactive").unwrap_or_else(|| {
        match (
            m.get("Inact_dirty"),
            m.get("Inact_clean"),
            m.get("Inact_laundry"),
        ) {
            (Some(a), Some(b), Some(c)) => a + b + c,
            _ => 0,
        }
    });
    let mut available = match m.get("MemAvailable") {
        Some(a) if a != 0 => a as i128,
        _ => estimate_available(m, zone_low_bytes),
    };
    if available < 0 {
        available = 0;
    } else if available > total as i128 {
        // Inside some containers meminfo is distorted; psutil falls back to free.
        available = free as i128;
    }
    let available = available as u64;
    VirtualMemory {
        total,
        available,
        used: total.saturating_sub(available),
        free,
        active: g("Active"),
        inactive,
        buffers: g("Buffers"),
        cached,
        shared,
        slab: g("Slab"),
        slab_reclaimable: g("SReclaimable"),
        slab_unreclaimable: g("SUnreclaim"),
    }
}

/// psutil's `calculate_avail_vmem`: the kernel's MemAvailable formula (commit 34e431b0ae).
fn estimate_available(m: &Meminfo, zone_low_bytes: Option<u64>) -> i128 {
    let free = m.get("MemFree").unwrap_or(0) as f64;
    let fallback = free + m.get("Cached").unwrap_or(0) as f64;
    let (Some(active_file), Some(inactive_file), Some(slab_reclaimable), Some(low)) = (
        m.get("Active(file)"),
        m.get("Inactive(file)"),
        m.get("SReclaimable"),
        zone_low_bytes,
    ) else {
        return fallback as i128;
    };
    let low = low as f64;
    let mut avail = free - low;
    let pagecache = (active_file + inactive_file) as f64;
    avail += pagecache - (pagecache / 2.0).min(low);
    let sr = slab_reclaimable as f64;
    avail += sr - (sr / 2.0).min(low);
    avail as i128
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODERN: &str = "MemTotal:       1000 kB\nMemFree:         200 kB\nMemAvailable:    600 kB\n\
Buffers:          10 kB\nCached:          300 kB\nActive:          400 kB\nInactive:        250 kB\n\
Shmem:             5 kB\nSlab:             50 kB\nSReclaimable:     30 kB\nSUnreclaim:       20 kB\n\
HugePages_Total:       0\n";

    #[test]
    fn modern_kernel_follows_psutil() {
        let m = parse_meminfo(MODERN).unwrap();
        let v = virtual_memory(&m, None);
        assert_eq!(v.total, 1000 * 1024);
        assert_eq!(v.available, 600 * 1024);
        assert_eq!(v.used, 400 * 1024);
        assert_eq!(v.cached, 330 * 1024, "cached includes SReclaimable");
        assert_eq!(
            (v.shared, v.slab, v.buffers),
            (5 * 1024, 50 * 1024, 10 * 1024)
        );
        assert!(!needs_zoneinfo(&m));
    }

    #[test]
    fn missing_memavailable_is_estimated_from_zoneinfo() {
        let text = "MemTotal: 1000 kB\nMemFree: 200 kB\nCached: 300 kB\nActive(file): 100 kB\n\
Inactive(file): 100 kB\nSReclaimable: 40 kB\n";
        let m = parse_meminfo(text).unwrap();
        assert!(needs_zoneinfo(&m));
        let low = parse_zoneinfo_low("Node 0, zone DMA\n  pages free 3\n        min      1\n        low      5\n        high     7\nNode 0, zone Normal\n        low      5\n").unwrap();
        assert_eq!(low, 10);
        // low = 10 KiB: avail = 200 - 10 + (200 - 10) + (40 - 10) = 410 KiB
        let v = virtual_memory(&m, Some(10 * 1024));
        assert_eq!(v.available, 410 * 1024);
        // Without zoneinfo psutil falls back to free + cached.
        assert_eq!(virtual_memory(&m, None).available, 500 * 1024);
    }

    #[test]
    fn available_above_total_falls_back_to_free() {
        let m = parse_meminfo("MemTotal: 100 kB\nMemFree: 20 kB\nMemAvailable: 500 kB\n").unwrap();
        assert_eq!(virtual_memory(&m, None).available, 20 * 1024);
    }

    #[test]
    fn malformed_meminfo_is_an_error() {
        assert!(parse_meminfo("MemTotal: x kB\nMemFree: 1 kB\n").is_err());
        assert!(parse_meminfo("Buffers: 1 kB\n").is_err());
    }
}

#[cfg(test)]
mod fixture_tests {
    use super::*;

    #[test]
    fn fixture_trees() {
        let modern =
            parse_meminfo(include_str!("../../tests/fixtures/modern/proc/meminfo")).unwrap();
        assert_eq!(virtual_memory(&modern, None).available, 9871204 * 1024);
        let legacy =
            parse_meminfo(include_str!("../../tests/fixtures/legacy/proc/meminfo")).unwrap();
        assert!(needs_zoneinfo(&legacy));
        let low =
            parse_zoneinfo_low(include_str!("../../tests/fixtures/legacy/proc/zoneinfo")).unwrap();
        assert_eq!(low, 41 + 6250);
    }
}
