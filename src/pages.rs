//! Unmapping the daemon's clean file pages once it is up: with src/malloc.rs, src/bpf.rs and
//! the processes collector's ioprio.rs, the only modules allowed `unsafe`.
//!
//! Most of an idle daemon's RSS is not its data but the pages of its own binary and of libc
//! (docs/performance.md, "Memory and binary size"): a fault on a file mapping maps up to
//! 64 KiB of neighbouring pages that are in the page cache ("fault-around"), and what ran
//! once at startup (argument parsing, the config parser, TLS setup, the first collection of
//! every collector) stays mapped. [`release`] does two things to each read-only private file
//! mapping of the process:
//!
//! - `MADV_DONTNEED`: its pages leave the process's page tables. They stay in the page cache,
//!   and code that runs again faults its pages back in, unchanged, from there (as after the
//!   kernel's own reclaim, which may drop these clean pages at any time).
//! - Splits it into [`SPLIT`]-sized areas (`MADV_NOHUGEPAGE` on every other one: two
//!   neighbours with different flags cannot merge), because fault-around never maps past
//!   the area the fault is in. Without the split the code that runs every tick, spread over
//!   the whole text, faults nearly all of it back within seconds. The price is a few hundred
//!   more areas in the kernel (about 200 bytes each) and no huge pages for these mappings,
//!   which a 16 KiB area could not hold anyway. `MADV_RANDOM` does not stop fault-around
//!   (measured, docs/performance.md).
//!
//! `MADV_DONTNEED` throws away a private mapping's copy-on-write pages, so only mappings with
//! none are chosen, from `/proc/self/smaps` ([`clean_file_mappings`]): not writable, no
//! `Anonymous` and no `Private_Dirty` page. Nothing in the process writes to them afterwards
//! (that would take an `mprotect` first, as the loader does for RELRO, which then holds
//! anonymous pages and is never chosen).
#![allow(unsafe_code)]

use std::time::Duration;

use crate::host::proc_pid_smaps::{CleanMapping, SELF_SMAPS, clean_file_mappings};
use crate::host::{HostError, Limit, read_bytes_with};

/// When [`release`] runs, from the start: once the listener is bound and every collector has
/// collected once, and again a minute later, for a binary installed just before its start
/// (its pages are still dirty in the page cache for up to about 30 s, and then left alone).
pub const RELEASE_AFTER: [Duration; 2] = [Duration::from_secs(5), Duration::from_secs(60)];

/// The most fault-around maps after the split: the area a fault is in.
pub const SPLIT: usize = 16 << 10;

/// The most areas the split adds (the kernel's default `vm.max_map_count` is 65,530).
const MAX_SPLITS: usize = 4096;

/// What [`release`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Released {
    pub mappings: usize,
    /// Resident in them before, as smaps counted it.
    pub kib: u64,
    /// Mappings the kernel refused (locked ones, say): left as they were.
    pub refused: usize,
    /// Areas the split marked.
    pub splits: usize,
}

/// Unmaps the resident pages of every clean file mapping of the process and splits them.
pub fn release() -> Result<Released, HostError> {
    let smaps = read_bytes_with(SELF_SMAPS.as_ref(), Limit::Table)?;
    let chunk = SPLIT.max(rustix::param::page_size());
    let mut done = Released::default();
    for m in clean_file_mappings(&smaps) {
        if !unmap(&m) {
            done.refused += 1;
            continue;
        }
        done.mappings += 1;
        done.kib += m.rss_kib;
        for at in split_points(m.start, m.len, chunk).take(MAX_SPLITS - done.splits) {
            // A kernel without transparent huge pages refuses the flag: no split, no harm.
            if !mark(at, chunk) {
                break;
            }
            done.splits += 1;
        }
    }
    Ok(done)
}

/// Where the areas to mark start: every other `chunk` of the mapping, the first left as it
/// was (a core dump's ELF header page keeps its flags).
pub fn split_points(start: usize, len: usize, chunk: usize) -> impl Iterator<Item = usize> {
    let end = start.saturating_add(len);
    (start.saturating_add(chunk)..end)
        .step_by(chunk.saturating_mul(2).max(1))
        .filter(move |at| at.saturating_add(chunk) <= end)
}

#[cfg(target_os = "linux")]
fn unmap(m: &CleanMapping) -> bool {
    // SAFETY: the range is a whole mapping of this process that smaps just listed as private,
    // read-only and file-backed with no anonymous or dirty page, so every page dropped is
    // read back from the file as it was; no Rust object lives in it (it is code and
    // constants of the binary and of shared libraries). A range that no longer is mapped or
    // is locked makes madvise fail (ENOMEM, EINVAL) and changes nothing.
    unsafe { libc::madvise(m.start as *mut libc::c_void, m.len, libc::MADV_DONTNEED) == 0 }
}

#[cfg(target_os = "linux")]
fn mark(at: usize, len: usize) -> bool {
    // SAFETY: MADV_NOHUGEPAGE only sets a flag on the area (splitting it from its
    // neighbours); it never changes or drops a page.
    unsafe { libc::madvise(at as *mut libc::c_void, len, libc::MADV_NOHUGEPAGE) == 0 }
}

#[cfg(not(target_os = "linux"))]
fn unmap(_: &CleanMapping) -> bool {
    false
}

#[cfg(not(target_os = "linux"))]
fn mark(_: usize, _: usize) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_other_chunk_after_the_first_is_marked() {
        let points: Vec<_> = split_points(0x1000_0000, 7 * 0x4000, 0x4000).collect();
        assert_eq!(points, [0x1000_4000, 0x1000_c000, 0x1001_4000]);
        // A partial chunk at the end is left alone; a mapping of one chunk is not split.
        assert_eq!(split_points(0, 0x6000, 0x4000).count(), 0);
        assert_eq!(
            split_points(0, 0x8000, 0x4000).collect::<Vec<_>>(),
            [0x4000]
        );
        assert_eq!(split_points(usize::MAX - 0x1000, 0x8000, 0x4000).count(), 0);
    }

    /// The resident KiB of the clean file mappings and the files they map.
    fn clean() -> (u64, Vec<String>) {
        let mappings = clean_file_mappings(&std::fs::read(SELF_SMAPS).unwrap());
        let kib = mappings.iter().map(|m| m.rss_kib).sum();
        (kib, mappings.into_iter().map(|m| m.path).collect())
    }

    /// How many areas map one of `files`.
    fn areas(files: &[String]) -> usize {
        let smaps = std::fs::read_to_string(SELF_SMAPS).unwrap();
        smaps
            .lines()
            .filter(|l| files.iter().any(|f| l.ends_with(f.as_str())))
            .count()
    }

    #[test]
    fn release_unmaps_and_splits_while_the_process_goes_on() {
        // libc and the loader at least; not the test binary while the linker's pages are
        // still dirty in the page cache (smaps counts them in Private_Dirty).
        let (kib_before, files) = clean();
        let areas_before = areas(&files);
        let r = release().unwrap();
        assert!(r.mappings > 0 && r.kib > 0, "{r:?}");
        // Without transparent huge pages the kernel refuses the flag, and nothing is split.
        let splits = std::path::Path::new("/sys/kernel/mm/transparent_hugepage").exists();
        assert_eq!(r.splits > 0, splits, "{r:?}");
        assert_eq!(r.refused, 0, "{r:?}");
        // The code that runs from here (this test, the other tests on their threads) faults
        // its pages back from the file, unchanged: the process goes on.
        let (kib_after, _) = clean();
        assert!(
            kib_after < kib_before,
            "{kib_after} KiB resident, {kib_before} before"
        );
        let areas_after = areas(&files);
        assert!(
            areas_after > areas_before || !splits,
            "{areas_after} areas map {files:?}, {areas_before} before"
        );
    }
}
