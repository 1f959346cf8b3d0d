//! `/proc/<pid>/stat`: the state letter (field 3) and the thread count (field 20). The
//! command name (field 2) may hold spaces and parentheses, so fields are counted from the
//! last `)`, as psutil does.

/// psutil's `Process.status()` names for the state letters (`PROC_STATUSES`), in the order
/// vitals exports them. `X` and `x` are both `dead`.
pub const STATES: [&str; 11] = [
    "running",
    "sleeping",
    "disk-sleep",
    "stopped",
    "tracing-stop",
    "zombie",
    "dead",
    "wake-kill",
    "waking",
    "idle",
    "parked",
];

/// Index into [`STATES`] of a state letter; `None` for a letter psutil does not know
/// (psutil returns `?`).
pub fn state_index(letter: u8) -> Option<usize> {
    Some(match letter {
        b'R' => 0,
        b'S' => 1,
        b'D' => 2,
        b'T' => 3,
        b't' => 4,
        b'Z' => 5,
        b'X' | b'x' => 6,
        b'K' => 7,
        b'W' => 8,
        b'I' => 9,
        b'P' => 10,
        _ => return None,
    })
}

/// (state letter, num_threads) from the bytes of one stat file; `None` when malformed.
pub fn parse_state_threads(stat: &[u8]) -> Option<(u8, u64)> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let mut fields = stat[close + 1..]
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    let state = *fields.next()?.first()?;
    // After the state: ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
    // utime stime cutime cstime priority nice, then num_threads (field 20).
    let threads = fields.nth(16)?;
    let mut n: u64 = 0;
    for &d in threads {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some((state, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_and_threads_after_the_last_paren() {
        let line = b"4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 1200 0 0 0 15 3 0 0 20 0 7 0 \
                     123456 1000000 200 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 17 1 0 0\n";
        assert_eq!(parse_state_threads(line), Some((b'S', 7)));
        assert_eq!(parse_state_threads(b"1 (init) Z 0"), None);
        assert_eq!(parse_state_threads(b"garbage"), None);
    }

    #[test]
    fn letters_map_to_psutil_names() {
        assert_eq!(state_index(b'Z').map(|i| STATES[i]), Some("zombie"));
        assert_eq!(state_index(b'x').map(|i| STATES[i]), Some("dead"));
        assert_eq!(state_index(b'D').map(|i| STATES[i]), Some("disk-sleep"));
        assert_eq!(state_index(b'?'), None);
    }
}
