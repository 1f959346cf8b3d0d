//! `<rootfs>/etc/passwd`: user names by uid, for psutil's `username()` (the real uid's name,
//! or the uid as a string when it has none). Reading the file rather than calling getpwuid(3)
//! keeps it under the rootfs root, so a container reads the host's users. Users known only
//! to NSS services (LDAP, sssd) are not in the file and show as their uid.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::time::SystemTime;

use super::bytes::escape;

/// uid -> name (as bytes); the first line wins for a uid listed twice, as getpwuid does.
pub fn parse_passwd(text: &[u8]) -> HashMap<u32, Vec<u8>> {
    let mut users = HashMap::new();
    for line in text.split(|&b| b == b'\n') {
        if line.starts_with(b"#") || line.starts_with(b"+") || line.starts_with(b"-") {
            continue;
        }
        let mut fields = line.split(|&b| b == b':');
        let (Some(name), Some(_), Some(uid)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        let Some(uid) = std::str::from_utf8(uid)
            .ok()
            .and_then(|u| u.parse::<u32>().ok())
        else {
            continue;
        };
        if !name.is_empty() {
            users.entry(uid).or_insert_with(|| name.to_vec());
        }
    }
    users
}

/// User names by uid from a passwd file, re-read when the file changes (its mtime or size),
/// at most once per tick.
#[derive(Default)]
pub struct Users {
    names: HashMap<u32, String>,
    stamp: Option<(SystemTime, u64)>,
    checked: u64,
}

impl Users {
    /// Re-reads `path` if it changed, unless this `tick` already looked.
    pub fn refresh(&mut self, path: &Path, tick: u64) {
        if self.checked == tick {
            return;
        }
        self.checked = tick;
        let stamp = std::fs::metadata(path)
            .ok()
            .and_then(|m| Some((m.modified().ok()?, m.len())));
        if stamp == self.stamp {
            return;
        }
        self.stamp = stamp;
        let text = super::read_bytes_with(path, super::Limit::Table).unwrap_or_default();
        self.names = parse_passwd(&text)
            .into_iter()
            .map(|(uid, name)| (uid, escape(&name).into_owned()))
            .collect();
    }

    /// psutil's `username()`: the name, or the uid as a string.
    pub fn name(&self, uid: Option<u32>) -> Cow<'_, str> {
        match uid {
            Some(uid) => match self.names.get(&uid) {
                Some(n) => Cow::Borrowed(n.as_str()),
                None => Cow::Owned(uid.to_string()),
            },
            None => Cow::Borrowed(""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_by_uid() {
        let users = parse_passwd(
            b"root:x:0:0:root:/root:/bin/bash\n# comment\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n\
              toor:x:0:0::/:/bin/sh\nbad:x:notanumber:0::/:\n:x:5:5::/:\nshort\n",
        );
        assert_eq!(users.get(&0).map(Vec::as_slice), Some(&b"root"[..]));
        assert_eq!(users.get(&33).map(Vec::as_slice), Some(&b"www-data"[..]));
        assert_eq!(users.len(), 2);
    }
}
