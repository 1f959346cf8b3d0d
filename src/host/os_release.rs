//! `/etc/os-release` (or `/usr/lib/os-release`): shell-style `KEY=value` lines, values
//! optionally in single or double quotes with backslash escapes in double quotes.

/// The assignments in file order; comments, blank lines and malformed lines are skipped.
pub fn parse_os_release(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.split_once('=')?;
            let key = key.trim();
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return None;
            }
            Some((key.to_string(), unquote(value.trim())))
        })
        .collect()
}

fn unquote(v: &str) -> String {
    if let Some(inner) = v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return inner.to_string();
    }
    let Some(inner) = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
        return v.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The value of `key`, the last assignment winning as in a shell.
pub fn get<'a>(fields: &'a [(String, String)], key: &str) -> Option<&'a str> {
    fields
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_comments() {
        let f = parse_os_release(
            "# comment\nPRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nID=debian\n\
             VERSION_ID='13'\nNAME=\"say \\\"hi\\\"\"\nbroken line\n",
        );
        assert_eq!(get(&f, "PRETTY_NAME"), Some("Debian GNU/Linux 13 (trixie)"));
        assert_eq!(get(&f, "ID"), Some("debian"));
        assert_eq!(get(&f, "VERSION_ID"), Some("13"));
        assert_eq!(get(&f, "NAME"), Some("say \"hi\""));
        assert_eq!(get(&f, "broken line"), None);
    }
}
