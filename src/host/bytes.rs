//! Host names as bytes. Mount points, interface names and sensor labels are byte strings to
//! the kernel: a Latin-1 USB label or an SMB share name need not be UTF-8. psutil decodes them
//! with `surrogateescape`; a Prometheus label value must be UTF-8, so vitals escapes instead,
//! reversibly:
//!
//! - A name that is valid UTF-8 and holds no `\x` is exported as it is (psutil's string).
//! - Any other name is escaped: each byte that is not part of valid UTF-8 becomes `\xNN`
//!   (two lowercase hex digits) and each backslash becomes `\\`.
//!
//! So a label value holds `\x` exactly when it was escaped, and [`unescape`] gives back the
//! original bytes: `\\` is one backslash, `\xNN` one byte, anything else itself.

use std::borrow::Cow;

/// The label value for a host name given as bytes.
pub fn escape(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.contains("\\x") => Cow::Borrowed(s),
        _ => Cow::Owned(escape_always(bytes)),
    }
}

fn escape_always(mut bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    loop {
        let (valid, invalid) = match std::str::from_utf8(bytes) {
            Ok(s) => (s, &[][..]),
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                let bad = e.error_len().unwrap_or(rest.len());
                // The prefix was checked by from_utf8 above.
                (std::str::from_utf8(valid).unwrap_or_default(), &rest[..bad])
            }
        };
        for c in valid.chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for b in invalid {
            out.push_str(&format!("\\x{b:02x}"));
        }
        let consumed = valid.len() + invalid.len();
        if consumed >= bytes.len() {
            return out;
        }
        bytes = &bytes[consumed..];
    }
}

/// The original bytes of a label value made by [`escape`].
pub fn unescape(value: &str) -> Vec<u8> {
    if !value.contains("\\x") {
        return value.as_bytes().to_vec();
    }
    let b = value.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else if b[i] == b'\\'
            && b.get(i + 1) == Some(&b'x')
            && let Some(n) = b
                .get(i + 2..i + 4)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(n);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// The longest label value vitals exports, in bytes. Host text becomes label values (sensor
/// labels, mount points, user and host names, os-release fields), and a sysfs attribute can
/// hold 64 KiB: every value goes through [`truncate`] in `Snapshot::add`, so no host file
/// makes one series carry kilobytes into every scrape and every stored sample.
pub const MAX_LABEL_BYTES: usize = 256;

/// A label value of at most [`MAX_LABEL_BYTES`]: a longer one keeps its start, cut at a
/// character boundary and never inside an `\xNN` or `\\` of [`escape`], followed by the
/// marker `…[N bytes, H]`, N the whole value's length and H 16 hex digits of its FNV-1a
/// hash, so that two long values with the same start stay two series. Values within the cap
/// (every real one) are returned as they are, for the cost of one length comparison.
pub fn truncate(value: &str) -> Cow<'_, str> {
    if value.len() <= MAX_LABEL_BYTES {
        return Cow::Borrowed(value);
    }
    let marker = format!("…[{} bytes, {:016x}]", value.len(), fnv1a(value.as_bytes()));
    let mut cut = MAX_LABEL_BYTES - marker.len();
    while !value.is_char_boundary(cut) {
        cut -= 1;
    }
    if value.contains("\\x") {
        cut = escape_boundary(value, cut);
    }
    Cow::Owned(format!("{}{marker}", &value[..cut]))
}

/// The last end of a whole escape unit (`\\`, `\xNN` or one character) of an escaped
/// value at or before `cut`, so that [`unescape`] still reads the kept part right.
fn escape_boundary(value: &str, cut: usize) -> usize {
    let b = value.as_bytes();
    let mut end = 0;
    while end < cut {
        let unit = match (b[end], b.get(end + 1)) {
            (b'\\', Some(b'\\')) => 2,
            (b'\\', Some(b'x')) => 4,
            _ => value[end..].chars().next().map_or(1, char::len_utf8),
        };
        if end + unit > cut {
            break;
        }
        end += unit;
    }
    end
}

/// 64-bit FNV-1a: stable across builds and Rust versions, unlike std's hasher, so a
/// truncated value keeps its series across upgrades.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A host name in an `OsStr` (a directory entry, a path component) as a label value.
pub fn escape_os(name: &std::ffi::OsStr) -> Cow<'_, str> {
    use std::os::unix::ffi::OsStrExt;
    escape(name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_names_are_unchanged() {
        for s in [
            "/",
            "/media/usb stick",
            "/mnt/日本",
            "eth0",
            r"C:\share",
            "",
        ] {
            assert!(matches!(escape(s.as_bytes()), Cow::Borrowed(_)), "{s}");
            assert_eq!(escape(s.as_bytes()), s);
        }
    }

    #[test]
    fn invalid_bytes_are_escaped() {
        assert_eq!(escape(b"/media/caf\xe9"), r"/media/caf\xe9");
        assert_eq!(escape(b"a\\b\xff"), r"a\\b\xff");
        assert_eq!(escape(b"\xc3"), r"\xc3");
        assert_eq!(escape(b"\xe6\x97\xa5\xff\xe6\x97\xa5"), r"日\xff日");
        // A valid name that looks escaped is escaped, so decoding is never ambiguous.
        assert_eq!(escape(br"lit\x41"), r"lit\\x41");
    }

    #[test]
    fn long_values_are_truncated_with_a_marker() {
        let short = "x".repeat(MAX_LABEL_BYTES);
        assert!(matches!(truncate(&short), Cow::Borrowed(_)));
        let long = "é".repeat(1 << 19);
        let t = truncate(&long);
        assert!(t.len() <= MAX_LABEL_BYTES, "{}", t.len());
        assert!(t.starts_with("éé"));
        assert!(t.contains(&format!("…[{} bytes, ", long.len())), "{t}");
        let other = format!("{}z", &long[..long.len() - 2]);
        assert_ne!(truncate(&other), t, "same start, another value");
        // An escaped value is never cut inside an escape.
        for pad in 0..8 {
            let bytes = [b"a".repeat(pad), b"\xff".repeat(200)].concat();
            let escaped = escape(&bytes);
            let t = truncate(&escaped);
            assert!(t.len() <= MAX_LABEL_BYTES);
            let kept = t.split('…').next().unwrap();
            assert_eq!(escape(&unescape(kept)), kept, "pad {pad}");
        }
    }

    #[test]
    fn escaping_is_reversible() {
        let cases: [&[u8]; 9] = [
            b"",
            b"plain",
            b"/media/caf\xe9",
            b"\\",
            b"\\x",
            b"\\\\x41\xff",
            br"lit\x41",
            b"\xff\xfe\x00\x80",
            "ünï\u{1F600}".as_bytes(),
        ];
        for c in cases {
            assert_eq!(unescape(&escape(c)), c, "{:?}", escape(c));
        }
        // Every two-byte string round-trips.
        for a in 0..=255u8 {
            for b in [0u8, b'\\', b'x', 0x41, 0x80, 0xc3, 0xff] {
                let v = [a, b];
                assert_eq!(unescape(&escape(&v)), v);
            }
        }
    }
}
