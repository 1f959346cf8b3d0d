//! glibc's allocator, bounded to a daemon's needs: with src/pages.rs, src/bpf.rs and the
//! processes collector's ioprio.rs, the only modules allowed `unsafe`.
//!
//! glibc gives threads that contend for the heap arenas of their own, up to eight per core,
//! and never returns an arena. vitals' work moves between the runtime thread and the
//! blocking pool (collections, encodings, bcrypt), so under load a dozen arenas each keep
//! freed pages: heaptrack shows a 3.3 MB heap peak behind a 17 MiB RSS after two minutes of
//! 64 keep-alive clients. Two arenas are enough for one runtime thread and a pool that is
//! mostly idle, and [`trim`], every [`TRIM_EVERY`], hands the free pages back.
//! Elsewhere (musl, another allocator) both are no-ops.
#![allow(unsafe_code)]

/// Arenas for the whole process: one for the runtime thread, one shared by the pool.
const MAX_ARENAS: i32 = 2;

/// Allocations from this size up get pages of their own, returned when freed.
const MMAP_THRESHOLD: i32 = 1 << 20;

/// Caps the arenas and fixes the mmap threshold, each unless the environment sets it
/// (`MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_`: glibc reads them itself); to be called
/// before any thread starts.
///
/// glibc raises its threshold to the size of any mapped block freed, so after the first
/// scrape a body of 7 MiB (46,000 series) and the snapshots' sample lists come from the
/// arenas, where freed ones stay resident between trims: 26 MiB of growth against 11.5 MiB
/// with the threshold fixed (`bench/cgroups.py`, docs/performance.md).
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    for (var, param, value) in [
        ("MALLOC_ARENA_MAX", libc::M_ARENA_MAX, MAX_ARENAS),
        (
            "MALLOC_MMAP_THRESHOLD_",
            libc::M_MMAP_THRESHOLD,
            MMAP_THRESHOLD,
        ),
    ] {
        if std::env::var_os(var).is_some() {
            continue;
        }
        // SAFETY: mallopt only sets a parameter of the allocator; it is called from main
        // before the runtime starts a thread, and a value it rejects leaves the default.
        unsafe {
            libc::mallopt(param, value);
        }
    }
}

/// How often the daemon calls [`trim`].
pub const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Returns the free pages of every arena to the kernel. Walks the free lists and gives back
/// pages the next allocations fault in again: about 0.5 ms after a 10,000-series body was
/// freed (`cargo bench --bench encode -- malloc_trim`), so it runs on a timer, not per request.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes the arenas' own locks; it is safe from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}
