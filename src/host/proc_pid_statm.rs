//! `/proc/<pid>/statm`: psutil's `memory_info()` sizes in pages (size, resident, shared,
//! text, lib, data, dirty). lib and dirty are always 0 since Linux 2.6, as psutil notes.

/// The seven sizes, in pages, in the file's order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PidStatm {
    pub size: u64,
    pub resident: u64,
    pub shared: u64,
    pub text: u64,
    pub lib: u64,
    pub data: u64,
    pub dirty: u64,
}

/// `None` when fewer than seven numbers lead the file.
pub fn parse_statm(text: &[u8]) -> Option<PidStatm> {
    let mut n = [0u64; 7];
    let mut words = text
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    for slot in &mut n {
        *slot = std::str::from_utf8(words.next()?).ok()?.parse().ok()?;
    }
    let [size, resident, shared, text, lib, data, dirty] = n;
    Some(PidStatm {
        size,
        resident,
        shared,
        text,
        lib,
        data,
        dirty,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seven_sizes() {
        let m = parse_statm(b"2660 421 363 207 0 130 0\n").unwrap();
        assert_eq!((m.size, m.resident, m.shared), (2660, 421, 363));
        assert_eq!((m.text, m.lib, m.data, m.dirty), (207, 0, 130, 0));
        assert_eq!(parse_statm(b"1 2 3"), None);
        assert_eq!(parse_statm(b"1 2 3 4 5 6 x"), None);
    }
}
