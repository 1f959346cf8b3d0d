//! `/proc/<pid>/cmdline`: the arguments, split as psutil's `cmdline()` splits them. A process
//! that rewrote its arguments (setproctitle: `nginx: worker process`) may separate them with
//! spaces and no trailing NUL; psutil then splits on spaces, and so does this.

/// The arguments of one cmdline file, in order. Empty for a kernel thread or a zombie.
pub fn args(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let sep = if data.last() == Some(&0) { 0 } else { b' ' };
    let body = data.strip_suffix(&[sep]).unwrap_or(data);
    let sep = if sep == 0 && !body.contains(&0) && body.contains(&b' ') {
        b' '
    } else {
        sep
    };
    let empty = data.is_empty();
    body.split(move |&b| b == sep).filter(move |_| !empty)
}

/// The arguments joined by single spaces, psutil's `" ".join(cmdline())`, into `out`.
pub fn join_into(data: &[u8], out: &mut Vec<u8>) {
    out.clear();
    for (i, arg) in args(data).enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(arg);
    }
}

/// The last path component of `arg`.
pub fn basename(arg: &[u8]) -> &[u8] {
    arg.rsplit(|&b| b == b'/').next().unwrap_or(arg)
}

/// psutil's `name()`: the comm, unless it is 15 bytes or longer (the kernel cut it) and the
/// basename of the first argument starts with it: then that basename, the full name.
pub fn full_name<'a>(comm: &'a [u8], cmdline: &'a [u8]) -> &'a [u8] {
    if comm.len() < 15 {
        return comm;
    }
    match args(cmdline).next().map(basename) {
        Some(base) if base.starts_with(comm) => base,
        _ => comm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(data: &[u8]) -> Vec<&[u8]> {
        args(data).collect()
    }

    #[test]
    fn split_like_psutil() {
        assert_eq!(
            split(b"/usr/bin/python3\0-m\0http.server\0"),
            [&b"/usr/bin/python3"[..], b"-m", b"http.server"]
        );
        assert_eq!(
            split(b"nginx: worker process"),
            [&b"nginx:"[..], b"worker", b"process"]
        );
        assert_eq!(
            split(b"nginx: master process /usr/sbin/nginx\0"),
            [&b"nginx:"[..], b"master", b"process", b"/usr/sbin/nginx"]
        );
        assert_eq!(split(b"a\0\0b\0"), [&b"a"[..], b"", b"b"]);
        assert!(split(b"").is_empty());
        let mut out = Vec::new();
        join_into(b"/bin/sh\0-c\0sleep 5\0", &mut out);
        assert_eq!(out, b"/bin/sh -c sleep 5");
        assert_eq!(basename(b"/usr/sbin/nginx"), b"nginx");
        assert_eq!(basename(b"nginx:"), b"nginx:");
        assert_eq!(basename(b"dir/"), b"");
    }

    #[test]
    fn full_name_like_psutil() {
        let cut = b"averyveryverylo";
        assert_eq!(
            full_name(cut, b"/opt/x/averyveryverylongname\0--flag\0"),
            b"averyveryverylongname"
        );
        assert_eq!(full_name(cut, b"/opt/x/other\0"), cut, "not its binary");
        assert_eq!(full_name(cut, b""), cut, "unreadable or a zombie");
        assert_eq!(full_name(b"sshd", b"sshd: alice [priv]"), b"sshd");
        assert_eq!(
            full_name(b"short", b"/bin/shortened\0"),
            b"short",
            "comm not cut"
        );
        assert_eq!(
            full_name(b"kworker/0:1-events", b""),
            b"kworker/0:1-events",
            "kernel threads have longer comms and no cmdline"
        );
    }
}
