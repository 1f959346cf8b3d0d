//! The `bpf(2)` calls behind [`crate::host::task_free`]: a ring buffer map, the program
//! loaded and attached to a raw tracepoint, and the ring read. With src/malloc.rs,
//! src/pages.rs and the processes collector's ioprio.rs, the only modules allowed `unsafe`
//! (a system call libc has no wrapper for, and a ring the kernel writes into).
//!
//! The ring (`BPF_MAP_TYPE_RINGBUF`) is a consumer page the reader writes its position to,
//! then a producer page and the data pages, mapped twice in a row so that a record that
//! wraps reads as one piece. Each record has an 8-byte header (its length, with a busy and
//! a discard bit) and is padded to 8 bytes.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

const BPF_MAP_CREATE: libc::c_int = 0;
const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_RAW_TRACEPOINT_OPEN: libc::c_int = 17;
const BPF_MAP_TYPE_RINGBUF: u32 = 27;
const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;
/// `union bpf_attr` as passed: larger than every command's part, the rest zero.
const ATTR: usize = 128;
const BUSY: u32 = 1 << 31;
const DISCARD: u32 = 1 << 30;
const HEADER: usize = 8;

fn bpf(cmd: libc::c_int, attr: &mut [u8; ATTR]) -> io::Result<OwnedFd> {
    // SAFETY: the attribute is ATTR bytes, and every pointer in it outlives the call.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), ATTR as libc::c_uint) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(r).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    // SAFETY: a new descriptor the kernel just returned, owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn put32(a: &mut [u8; ATTR], at: usize, v: u32) {
    a[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}

fn put64(a: &mut [u8; ATTR], at: usize, v: u64) {
    a[at..at + 8].copy_from_slice(&v.to_ne_bytes());
}

/// A shared mapping, unmapped on drop.
struct Mapping {
    base: *mut u8,
    len: usize,
}

impl Mapping {
    fn new(fd: &OwnedFd, len: usize, offset: usize, writable: bool) -> io::Result<Mapping> {
        let prot = libc::PROT_READ | if writable { libc::PROT_WRITE } else { 0 };
        let off = libc::off_t::try_from(offset)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: a fresh shared mapping of the map; the kernel checks size and offset.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                off,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            base: base.cast(),
            len,
        })
    }

    /// The u64 at `at` (8-aligned, inside the mapping), which the kernel writes too.
    fn word(&self, at: usize) -> &AtomicU64 {
        debug_assert!(at + 8 <= self.len && at.is_multiple_of(8));
        // SAFETY: in bounds and aligned (above); the mapping lives as long as self.
        unsafe { &*self.base.add(at).cast::<AtomicU64>() }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in new, unmapped once.
        unsafe {
            libc::munmap(self.base.cast(), self.len);
        }
    }
}

/// A program attached to a raw tracepoint, writing into a ring buffer map.
pub struct Attached {
    consumer: Mapping,
    producer: Mapping,
    size: usize,
    page: usize,
    // Dropped last: closing the link detaches the program, and the map goes with both.
    _link: OwnedFd,
    _prog: OwnedFd,
    _map: OwnedFd,
}

// The mappings belong to this value alone; the kernel's side is synchronised through the
// positions and the record headers.
unsafe impl Send for Attached {}

/// Why loading failed: the call that failed, its error, and the verifier's log.
#[derive(Debug)]
pub struct LoadError {
    pub step: &'static str,
    pub error: io::Error,
    pub log: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.step, self.error)?;
        if !self.log.is_empty() {
            write!(f, " (verifier: {})", self.log.trim())?;
        }
        Ok(())
    }
}

impl Attached {
    /// Creates a ring of `size` bytes (a power of two, whole pages), builds the program with
    /// `program(map_fd)` and attaches it to the raw tracepoint `tracepoint`.
    pub fn load(
        tracepoint: &CStr,
        size: usize,
        program: impl FnOnce(i32) -> Vec<u8>,
    ) -> Result<Attached, LoadError> {
        let fail = |step| {
            move |error| LoadError {
                step,
                error,
                log: String::new(),
            }
        };
        let page = rustix::param::page_size();
        let mut a = [0u8; ATTR];
        put32(&mut a, 0, BPF_MAP_TYPE_RINGBUF);
        put32(&mut a, 12, u32::try_from(size).unwrap_or(0));
        let map = bpf(BPF_MAP_CREATE, &mut a).map_err(fail("creating the ring buffer"))?;
        let insns = program(map.as_raw_fd());
        let license = c"Dual MIT/GPL";
        // Loaded without the verifier's log (a log that outgrows its buffer fails the load),
        // then, if refused, again with it to say why.
        let load = |log: Option<&mut Vec<u8>>| {
            let mut a = [0u8; ATTR];
            put32(&mut a, 0, BPF_PROG_TYPE_RAW_TRACEPOINT);
            put32(&mut a, 4, (insns.len() / 8) as u32);
            put64(&mut a, 8, insns.as_ptr() as u64);
            put64(&mut a, 16, license.as_ptr() as u64);
            if let Some(log) = log {
                put32(&mut a, 24, 1);
                put32(&mut a, 28, log.len() as u32);
                put64(&mut a, 32, log.as_mut_ptr() as u64);
            }
            a[48..48 + 10].copy_from_slice(b"vitals_end");
            bpf(BPF_PROG_LOAD, &mut a)
        };
        let prog = load(None).map_err(|error| {
            let mut log = vec![0u8; 64 << 10];
            let _ = load(Some(&mut log));
            let end = log.iter().position(|&c| c == 0).unwrap_or(log.len());
            LoadError {
                step: "loading the program",
                error,
                log: String::from_utf8_lossy(&log[..end]).into_owned(),
            }
        })?;
        let mut a = [0u8; ATTR];
        put64(&mut a, 0, tracepoint.as_ptr() as u64);
        put32(&mut a, 8, prog.as_raw_fd() as u32);
        let link =
            bpf(BPF_RAW_TRACEPOINT_OPEN, &mut a).map_err(fail("attaching to the tracepoint"))?;
        let consumer = Mapping::new(&map, page, 0, true).map_err(fail("mapping the ring"))?;
        let producer =
            Mapping::new(&map, page + 2 * size, page, false).map_err(fail("mapping the ring"))?;
        Ok(Attached {
            consumer,
            producer,
            size,
            page,
            _link: link,
            _prog: prog,
            _map: map,
        })
    }

    /// Appends every complete record's body to `out` in order (records of `record` bytes:
    /// a body of another size is skipped) and frees their space. Returns the records taken.
    pub fn drain(&mut self, record: usize, out: &mut Vec<u8>) -> usize {
        let mut cons = self.consumer.word(0).load(Ordering::Relaxed);
        let prod = self.producer.word(0).load(Ordering::Acquire);
        let mut n = 0;
        while cons < prod {
            let at = self.page + (cons as usize & (self.size - 1));
            // SAFETY: `at` is inside the first copy of the data, and the header is 4-aligned.
            let header = unsafe { &*self.producer.base.add(at).cast::<AtomicU32>() };
            let len = header.load(Ordering::Acquire);
            if len & BUSY != 0 {
                break;
            }
            let body = (len & !(BUSY | DISCARD)) as usize;
            if len & DISCARD == 0 && body == record && body <= self.size {
                // SAFETY: the body follows its header and, the data being mapped twice,
                // reads as one piece even where it wraps.
                out.extend_from_slice(unsafe {
                    std::slice::from_raw_parts(self.producer.base.add(at + HEADER), body)
                });
                n += 1;
            }
            cons += ((body + HEADER + 7) & !7) as u64;
        }
        self.consumer.word(0).store(cons, Ordering::Release);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::btf::task_offsets;
    use crate::host::task_free::{RECORD, parse_record, program};

    /// Refused before the program (no privilege): nothing more to check here.
    fn unprivileged(e: &LoadError) -> bool {
        e.step == "creating the ring buffer" && e.error.kind() == io::ErrorKind::PermissionDenied
    }

    #[test]
    fn a_program_the_verifier_refuses_says_why() {
        // `exit` with r0 never written.
        let r = Attached::load(c"sched_process_free", 4096, |_| {
            vec![0x95, 0, 0, 0, 0, 0, 0, 0]
        });
        match r {
            Err(e) if unprivileged(&e) => {}
            Err(e) => {
                assert_eq!(e.step, "loading the program", "{e}");
                assert!(e.log.contains("R0"), "{e}");
            }
            Ok(_) => panic!("the verifier took a program that returns nothing"),
        }
    }

    /// The whole path on this kernel, as root: a child that ends is in the ring with its
    /// final clock, at least what it ran.
    #[test]
    fn a_task_that_ends_is_in_the_ring_with_its_final_clock() {
        let Ok(f) = std::fs::File::open("/sys/kernel/btf/vmlinux") else {
            return;
        };
        let offsets = task_offsets(f).unwrap();
        let mut ring =
            match Attached::load(c"sched_process_free", 64 << 10, |fd| program(&offsets, fd)) {
                Ok(r) => r,
                Err(e) if unprivileged(&e) => return,
                Err(e) => panic!("{e}"),
            };
        let mut child = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"])
            .spawn()
            .unwrap();
        let pid = child.id();
        child.wait().unwrap();
        // Freed an RCU grace period after it was reaped.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut buf = Vec::new();
        loop {
            ring.drain(RECORD, &mut buf);
            let found = buf
                .chunks_exact(RECORD)
                .filter_map(parse_record)
                .find(|r| r.pid == pid);
            if let Some(r) = found {
                assert_eq!(r.tgid, pid);
                // The loop runs for some ms; a clock of 0 would be a wrong offset.
                assert!(r.runtime_ns > 1_000_000, "{r:?}");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "no record of {pid}");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}
