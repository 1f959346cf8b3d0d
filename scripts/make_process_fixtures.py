#!/usr/bin/env python3
"""Writes the procfs fixture tree tests/fixtures/processes.

What psutil's Process reads for each pid: stat, statm, status, io, fd/, cmdline, limits,
cgroup, plus /proc/stat (boot time, CPUs), /proc/uptime, the pid and thread limits and
etc/passwd. The processes are the hostile cases of the processes collector:

- comm with spaces and parentheses, with a newline, not UTF-8, and the 15-byte truncation
  (systemd-journald's comm is systemd-journal);
- kernel threads (PF_KTHREAD), one with a workqueue name longer than 15 bytes;
- a zombie (no memory, no fds, empty cmdline);
- an nginx worker owned by www-data whose io cannot be read: `io` is a directory here,
  since a fixture file cannot be made unreadable to root;
- a process that rewrote its cmdline with spaces (setproctitle), and a uid with no passwd
  entry.

Each process's numbers are consistent across its files (stat rss = statm resident = status
VmRSS; statm shared = RssFile + RssShmem), so that tests/python/test_process_fixture_oracle.py
can compare `vitals once` on this tree with psutil itself (psutil.PROCFS_PATH pointed at it).
Regenerate with `python3 scripts/make_process_fixtures.py`, then the golden files.
"""
import os
import pathlib
import shutil

ROOT = pathlib.Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "processes"
PAGE = 4096
PF_KTHREAD = 0x00200000

# pid, comm (bytes), state, ppid, uid, flags, (utime, stime, cutime, cstime),
# (minflt, cminflt, majflt, cmajflt), threads, starttime, vm pages, rss pages, (file, shmem)
# pages, swap kB, (voluntary, involuntary), io or None (unreadable) or "none" (no file),
# fds, cmdline (bytes), cgroup, nofile soft limit
PROCS = [
    (1, b"systemd", "S", 0, 0, 0x400100, (120, 80, 9000, 4000), (50000, 900000, 120, 3000), 1, 8,
     5600, 3000, (2000, 10), 0, (40000, 2000), (1 << 30, 1 << 29, 3 << 30, 2 << 30), 120,
     b"/sbin/init\0splash\0", "/init.scope", 1024),
    (2, b"kthreadd", "S", 0, 0, PF_KTHREAD | 0x40, (0, 3, 0, 0), (0, 0, 0, 0), 1, 8,
     0, 0, None, None, (900, 5), (0, 0, 0, 0), 0, b"", "/", 1024),
    (3, b"kworker/0:1-events_unbound", "I", 2, 0, PF_KTHREAD | 0x4208060, (0, 410, 0, 0), (0, 0, 0, 0), 1, 9,
     0, 0, None, None, (70000, 12), (0, 0, 0, 0), 0, b"", "/", 1024),
    (4, b"rcu_gp", "I", 2, 0, PF_KTHREAD | 0x4208060, (0, 0, 0, 0), (0, 0, 0, 0), 1, 9,
     0, 0, None, None, (2, 0), (0, 0, 0, 0), 0, b"", "/", 1024),
    (310, b"systemd-journal", "S", 1, 0, 0x400100, (300, 500, 0, 0), (9000, 0, 40, 0), 1, 350,
     12000, 4000, (3500, 400), 128, (1200000, 300), (1 << 20, 1 << 28, 5 << 20, 3 << 28), 60,
     b"/lib/systemd/systemd-journald\0", "/system.slice/systemd-journald.service", 524288),
    (700, b"nginx", "S", 1, 0, 0x402140, (10, 20, 0, 0), (2000, 100, 5, 1), 1, 70000,
     3000, 600, (500, 20), 0, (300, 4), (1 << 16, 0, 1 << 18, 1 << 12), 12,
     b"nginx: master process /usr/sbin/nginx -g daemon on; master_process on;", "/system.slice/nginx.service", 1024),
    (701, b"nginx", "S", 700, 33, 0x402140, (900, 400, 0, 0), (8000, 0, 2, 0), 1, 70010,
     3100, 900, (600, 100), 4, (90000, 800), (1 << 20, 1 << 22, 1 << 30, 1 << 29), 30,
     b"nginx: worker process", "/system.slice/nginx.service", 1024),
    (702, b"nginx", "R", 700, 33, 0x402140, (800, 350, 0, 0), (7000, 0, 1, 0), 1, 70011,
     3100, 880, (600, 100), 4, (85000, 900), None, 1000,
     b"nginx: worker process", "/system.slice/nginx.service", 1024),
    (900, b"my (weird) prog)", "S", 1, 1000, 0x400000, (5, 5, 0, 0), (100, 0, 0, 0), 4, 90000,
     2000, 300, (200, 0), 0, (50, 1), (0, 0, 0, 0), 5,
     b"./my (weird) prog)\0--flag\0", "/user.slice/user-1000.slice/session-2.scope", 1024),
    (901, b"line\nbreak", "S", 1, 1000, 0x400000, (1, 1, 0, 0), (10, 0, 0, 0), 1, 90010,
     1000, 100, (90, 0), 0, (5, 0), (0, 0, 0, 0), 3,
     b"/tmp/line\nbreak\0", "/user.slice/user-1000.slice/session-2.scope", 1024),
    (902, b"caf\xe9", "D", 1, 4242, 0x400000, (2, 2, 0, 0), (10, 0, 0, 0), 2, 90020,
     1000, 100, (90, 0), 0, (5, 0), (4096, 0, 4096, 0), 3,
     b"/opt/caf\xe9\0", "/user.slice/user-4242.slice/session-3.scope", 1024),
    (903, b"java", "S", 1, 1000, 0x400000, (60000, 3000, 0, 0), (200000, 0, 30, 0), 42, 95000,
     900000, 250000, (20000, 1000), 2048, (1000, 5000), (1 << 24, 1 << 26, 1 << 28, 1 << 27), 900,
     b"java\0-Xmx4g\0-jar\0app.jar\0--config=/etc/app/prod.yml\0", "/system.slice/app.service", 1024),
    (950, b"bash", "S", 1, 1000, 0x400000, (30, 10, 400, 200), (3000, 90000, 0, 10), 1, 96000,
     2500, 1300, (900, 0), 0, (800, 20), (0, 0, 0, 0), 4,
     b"-bash\0", "/user.slice/user-1000.slice/session-2.scope", 1024),
    (951, b"sh", "Z", 950, 1000, 0x40040c, (3, 1, 0, 0), (300, 0, 0, 0), 1, 96100,
     0, 0, None, None, (3, 0), (0, 0, 0, 0), 0, b"", "/user.slice/user-1000.slice/session-2.scope", 1024),
    (952, b"sleep", "T", 950, 1000, 0x400000, (0, 0, 0, 0), (90, 0, 0, 0), 1, 96200,
     2000, 200, (180, 0), 0, (2, 0), (0, 0, 0, 0), 3,
     b"sleep\x00600\x00", "/user.slice/user-1000.slice/session-2.scope", 1024),
]

STATUS_NAME = {"R": "R (running)", "S": "S (sleeping)", "D": "D (disk sleep)", "T": "T (stopped)",
               "Z": "Z (zombie)", "I": "I (idle)"}


def write(rel, data):
    p = ROOT / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data if isinstance(data, bytes) else data.encode())


def stat_line(p):
    (pid, comm, state, ppid, _uid, flags, (ut, st, cut, cst), (minf, cminf, majf, cmajf), threads,
     start, vm, rss, *_rest) = p
    tail = (f" {state} {ppid} {pid} {pid} 0 -1 {flags} {minf} {cminf} {majf} {cmajf} {ut} {st} {cut} {cst}"
            f" 20 0 {threads} 0 {start} {vm * PAGE} {rss} 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17"
            f" 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n")
    return b"%d (" % pid + comm + b")" + tail.encode()


def status_text(p):
    (pid, comm, state, ppid, uid, flags, _t, _f, threads, _start, vm, rss, shared, swap, ctx, *_rest) = p
    name = comm.decode("utf-8", "backslashreplace").replace("\n", "\\n")
    lines = [f"Name:\t{name}", "Umask:\t0022", f"State:\t{STATUS_NAME[state]}", f"Tgid:\t{pid}",
             f"Pid:\t{pid}", f"PPid:\t{ppid}", f"Uid:\t{uid}\t{uid}\t{uid}\t{uid}",
             f"Gid:\t{uid}\t{uid}\t{uid}\t{uid}"]
    if shared is not None:
        file_pages, shmem_pages = shared
        anon = rss - file_pages - shmem_pages
        lines += [f"VmSize:\t{vm * 4:8d} kB", f"VmRSS:\t{rss * 4:8d} kB", f"RssAnon:\t{anon * 4:8d} kB",
                  f"RssFile:\t{file_pages * 4:8d} kB", f"RssShmem:\t{shmem_pages * 4:8d} kB",
                  f"VmSwap:\t{swap:8d} kB"]
    lines += [f"Threads:\t{threads}", f"voluntary_ctxt_switches:\t{ctx[0]}",
              f"nonvoluntary_ctxt_switches:\t{ctx[1]}"]
    return "\n".join(lines) + "\n"


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    write("proc/stat", "cpu  1000 0 500 90000 10 0 5 0 0 0\ncpu0 500 0 250 45000 5 0 3 0 0 0\n"
                       "cpu1 500 0 250 45000 5 0 2 0 0 0\nintr 1000\nctxt 5000\nbtime 1763700000\n"
                       "processes 120000\nprocs_running 2\nprocs_blocked 1\nsoftirq 100\n")
    write("proc/uptime", "1000.00 1900.00\n")
    write("proc/sys/kernel/pid_max", "4194304\n")
    write("proc/sys/kernel/threads-max", "95000\n")
    write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
                        "alice:x:1000:1000:Alice:/home/alice:/bin/bash\n")
    for p in PROCS:
        (pid, comm, state, ppid, uid, flags, _t, _f, threads, start, vm, rss, shared, swap, ctx, io, fds,
         cmdline, cgroup, nofile) = p
        d = f"proc/{pid}"
        write(f"{d}/stat", stat_line(p))
        write(f"{d}/comm", comm + b"\n")
        shared_pages = sum(shared) if shared else 0
        write(f"{d}/statm", f"{vm} {rss} {shared_pages} 10 0 {max(rss - shared_pages, 0)} 0\n")
        write(f"{d}/status", status_text(p))
        if io is None:
            # Unreadable: a directory (read(2) fails with EISDIR, for root too).
            write(f"{d}/io/README", "io cannot be read for this process (see make_process_fixtures.py)\n")
        else:
            rb, wb, rc, wc = io
            write(f"{d}/io", f"rchar: {rc}\nwchar: {wc}\nsyscr: 10\nsyscw: 10\nread_bytes: {rb}\n"
                             f"write_bytes: {wb}\ncancelled_write_bytes: 0\n")
        os.makedirs(ROOT / d / "fd", exist_ok=True)
        for fd in range(fds):
            write(f"{d}/fd/{fd}", b"")
        if fds == 0:
            write(f"{d}/fd/.keep", b"")
        write(f"{d}/cmdline", cmdline)
        write(f"{d}/cgroup", f"0::{cgroup}\n")
        write(f"{d}/limits",
              "Limit                     Soft Limit           Hard Limit           Units     \n"
              f"Max open files            {nofile:<20} 524288               files     \n")


if __name__ == "__main__":
    main()
