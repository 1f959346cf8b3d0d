//! psutil's `ionice()`: ioprio_get(2), which neither /proc nor rustix or nix expose, so a raw
//! syscall: the one `unsafe` block of the processes collector, kept to this module.
#![allow(unsafe_code)]

/// `IOPRIO_WHO_PROCESS`: the `who` argument names a thread id.
const WHO_PROCESS: libc::c_long = 1;

/// psutil's `IOPriority` class names, by the kernel's class number.
pub const CLASSES: [&str; 4] = ["none", "rt", "be", "idle"];

/// (class, value) of `pid`, decoded as psutil decodes it (class in bits 13.., value below);
/// `None` when the call fails (the process exited, or another namespace's pid).
pub fn get(pid: u32) -> Option<(&'static str, u64)> {
    let pid = libc::c_long::from(pid);
    // SAFETY: ioprio_get takes two integers and returns an integer; it reads and writes no
    // memory of this process, so any argument values are sound.
    let prio = unsafe { libc::syscall(libc::SYS_ioprio_get, WHO_PROCESS, pid) };
    if prio < 0 {
        return None;
    }
    let class = usize::try_from(prio >> 13).ok()?;
    let value = (prio & 0x1fff) as u64;
    Some((CLASSES.get(class)?, value))
}

#[cfg(test)]
mod tests {
    #[test]
    fn own_priority() {
        let (class, value) = super::get(std::process::id()).unwrap();
        assert!(super::CLASSES.contains(&class));
        assert!(value < 8);
        assert_eq!(super::get(u32::MAX), None);
    }
}
