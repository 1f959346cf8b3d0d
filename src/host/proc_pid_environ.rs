//! `/proc/<pid>/environ`: the environment a process started with, as psutil's `environ()`
//! reads it (`NAME=value` entries separated by NUL). Readable only with ptrace access.

/// The value of the first entry named `name`; psutil keeps the last of duplicates in its
/// dict, which a process almost never has. An entry without `=`, or with an empty name,
/// is skipped as psutil skips it.
pub fn environ_value<'a>(data: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut found = None;
    for entry in data.split(|&b| b == 0) {
        let Some(eq) = entry.iter().position(|&b| b == b'=') else {
            continue;
        };
        if eq > 0 && &entry[..eq] == name {
            found = Some(&entry[eq + 1..]);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_by_name() {
        let env = b"PATH=/bin\0OTEL_SERVICE_NAME=api=v2\0=x\0JUNK\0EMPTY=\0PATH=/usr/bin\0";
        assert_eq!(
            environ_value(env, b"OTEL_SERVICE_NAME"),
            Some(&b"api=v2"[..])
        );
        assert_eq!(
            environ_value(env, b"PATH"),
            Some(&b"/usr/bin"[..]),
            "the last wins"
        );
        assert_eq!(environ_value(env, b"EMPTY"), Some(&b""[..]));
        assert_eq!(environ_value(env, b"JUNK"), None);
        assert_eq!(environ_value(env, b""), None);
        assert_eq!(environ_value(b"", b"PATH"), None);
    }
}
