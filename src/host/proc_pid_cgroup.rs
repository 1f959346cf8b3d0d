//! `/proc/<pid>/cgroup`: the cgroup a process belongs to, for grouping rules. On a cgroup v2
//! (unified) host that is the `0::` line; on a v1 host, the `name=systemd` hierarchy's path,
//! else the first line's.

/// The path of the chosen line, without the trailing newline; `None` for an empty file.
pub fn cgroup_path(text: &[u8]) -> Option<&[u8]> {
    let mut first = None;
    let mut systemd = None;
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let mut parts = line.splitn(3, |&b| b == b':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if id == b"0" && controllers.is_empty() {
            return Some(path);
        }
        if controllers == b"name=systemd" {
            systemd.get_or_insert(path);
        }
        first.get_or_insert(path);
    }
    systemd.or(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unified_then_systemd_then_first() {
        assert_eq!(
            cgroup_path(b"0::/system.slice/nginx.service\n"),
            Some(&b"/system.slice/nginx.service"[..])
        );
        let v1 = b"12:cpu,cpuacct:/user.slice\n1:name=systemd:/system.slice/ssh.service\n0::/\n";
        assert_eq!(cgroup_path(v1), Some(&b"/"[..]));
        let v1 = b"12:cpu,cpuacct:/user.slice\n1:name=systemd:/system.slice/ssh.service\n";
        assert_eq!(cgroup_path(v1), Some(&b"/system.slice/ssh.service"[..]));
        assert_eq!(
            cgroup_path(b"3:memory:/a:b\n"),
            Some(&b"/a:b"[..]),
            "a colon in the path"
        );
        assert_eq!(cgroup_path(b""), None);
    }
}
