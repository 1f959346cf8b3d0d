//! Counters that never go backwards while the daemon runs, and utilization from two readings.
//!
//! [`NoWrap`] is psutil's `_WrapNumbers`: for each (device, field) it keeps the last raw
//! value and a running offset; when a value goes down (a 32-bit wrap, a driver reset) the
//! last value is added to the offset, so `raw + offset` never decreases. Keys not seen in a
//! round are forgotten: a device that vanishes and returns starts again from its raw value.
//!
//! [`Hold`] is for counters whose rare decreases are measurement noise, not wraps (per-CPU
//! iowait, psutil issue #392): the exported value holds at its highest until the raw value
//! catches up, which is what psutil's negative-delta clamp amounts to for a rate.

use std::collections::HashMap;
use std::hash::Hash;

#[derive(Debug, Clone, Copy)]
struct Entry {
    last: u64,
    offset: u64,
    round: u64,
}

/// psutil's nowrap algorithm over any key.
#[derive(Debug)]
pub struct NoWrap<K> {
    entries: HashMap<K, Entry>,
    round: u64,
}

impl<K: Hash + Eq> Default for NoWrap<K> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            round: 0,
        }
    }
}

impl<K: Hash + Eq> NoWrap<K> {
    /// Starts a reading: every key must be updated again or [`finish`](Self::finish) drops it.
    pub fn begin(&mut self) {
        self.round += 1;
    }

    /// The exported value for `raw`, which never goes down for a key seen every round.
    pub fn update(&mut self, key: K, raw: u64) -> u64 {
        let round = self.round;
        let entry = self.entries.entry(key).or_insert(Entry {
            last: raw,
            offset: 0,
            round,
        });
        if raw < entry.last {
            entry.offset = entry.offset.saturating_add(entry.last);
        }
        entry.last = raw;
        entry.round = round;
        raw.saturating_add(entry.offset)
    }

    /// Forgets the keys that were not updated since [`begin`](Self::begin).
    pub fn finish(&mut self) {
        let round = self.round;
        self.entries.retain(|_, e| e.round == round);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Highest value seen per key, with the same round-based forgetting as [`NoWrap`].
#[derive(Debug)]
pub struct Hold<K> {
    entries: HashMap<K, (u64, u64)>,
    round: u64,
}

impl<K: Hash + Eq> Default for Hold<K> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            round: 0,
        }
    }
}

impl<K: Hash + Eq> Hold<K> {
    pub fn begin(&mut self) {
        self.round += 1;
    }

    pub fn update(&mut self, key: K, raw: u64) -> u64 {
        let round = self.round;
        let entry = self.entries.entry(key).or_insert((raw, round));
        entry.0 = entry.0.max(raw);
        entry.1 = round;
        entry.0
    }

    pub fn finish(&mut self) {
        let round = self.round;
        self.entries.retain(|_, e| e.1 == round);
    }
}

/// Share of each field in the time between two readings, psutil's `cpu_times_percent` as a
/// ratio: deltas below zero count as zero, and the total leaves out the fields marked in
/// `excluded_from_total` (guest time is already inside user and nice time). An interval
/// with no elapsed time yields zeros.
pub fn shares(prev: &[u64], cur: &[u64], excluded_from_total: &[bool]) -> Vec<f64> {
    let deltas: Vec<u64> = prev
        .iter()
        .zip(cur)
        .map(|(p, c)| c.saturating_sub(*p))
        .collect();
    let total: u64 = deltas
        .iter()
        .zip(excluded_from_total.iter().chain(std::iter::repeat(&false)))
        .filter(|(_, excluded)| !**excluded)
        .map(|(d, _)| *d)
        .sum();
    deltas
        .iter()
        .map(|d| {
            if total == 0 {
                0.0
            } else {
                (*d as f64 / total as f64).min(1.0)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(nw: &mut NoWrap<&'static str>, readings: &[(&'static str, u64)]) -> Vec<u64> {
        nw.begin();
        let out = readings.iter().map(|(k, v)| nw.update(k, *v)).collect();
        nw.finish();
        out
    }

    #[test]
    fn a_32_bit_wrap_never_decreases() {
        let mut nw = NoWrap::default();
        let max = u32::MAX as u64;
        assert_eq!(run(&mut nw, &[("sda", max - 10)]), vec![max - 10]);
        assert_eq!(run(&mut nw, &[("sda", 5)]), vec![max - 10 + 5]);
        assert_eq!(run(&mut nw, &[("sda", 100)]), vec![max - 10 + 100]);
    }

    #[test]
    fn a_reset_to_zero_keeps_the_running_total() {
        let mut nw = NoWrap::default();
        run(&mut nw, &[("eth0", 1000)]);
        assert_eq!(run(&mut nw, &[("eth0", 0)]), vec![1000]);
        assert_eq!(run(&mut nw, &[("eth0", 7)]), vec![1007]);
        // A second reset adds the value before it.
        assert_eq!(run(&mut nw, &[("eth0", 3)]), vec![1010]);
    }

    #[test]
    fn a_vanished_device_starts_clean_when_it_returns() {
        let mut nw = NoWrap::default();
        run(&mut nw, &[("sdb", 500), ("sda", 10)]);
        run(&mut nw, &[("sdb", 1), ("sda", 20)]); // sdb wrapped: offset 500
        assert_eq!(run(&mut nw, &[("sda", 30)]), vec![30]); // sdb gone
        assert_eq!(nw.len(), 1);
        assert_eq!(run(&mut nw, &[("sda", 40), ("sdb", 2)]), vec![40, 2]);
    }

    #[test]
    fn hold_ignores_small_decreases() {
        let mut h = Hold::default();
        for (raw, want) in [(100, 100), (99, 100), (101, 101)] {
            h.begin();
            assert_eq!(h.update("cpu0", raw), want);
            h.finish();
        }
    }

    #[test]
    fn shares_match_cpu_times_percent() {
        // user, idle, guest; guest is excluded from the total.
        let s = shares(&[100, 100, 10], &[130, 170, 20], &[false, false, true]);
        assert_eq!(s, vec![0.3, 0.7, 0.1]);
        // Negative deltas count as zero; no elapsed time yields zeros.
        assert_eq!(shares(&[10, 10], &[5, 10], &[false, false]), vec![0.0, 0.0]);
    }
}
