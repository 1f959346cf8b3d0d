#!/usr/bin/env python3
"""Writes tests/fixtures/modern/var/run/utmp: glibc's struct utmp on x86_64 (384 bytes per
record, little endian), built with struct from the documented layout so that it checks the
Rust parser independently. `tests/python/test_system_oracle.py` also reads it with glibc
(psutil.users() in a mount namespace where it is /var/run/utmp).

Layout: ut_type h, pad 2, ut_pid i, ut_line 32s, ut_id 4s, ut_user 32s, ut_host 256s,
ut_exit (e_termination h, e_exit h), ut_session i, ut_tv (tv_sec i, tv_usec i),
ut_addr_v6 4i, reserved 20s.
"""
import pathlib
import struct

FMT = "<hxxi32s4s32s256shhiii4i20s"
assert struct.calcsize(FMT) == 384

EMPTY, RUN_LVL, BOOT_TIME, INIT_PROCESS, LOGIN_PROCESS, USER_PROCESS, DEAD_PROCESS = 0, 1, 2, 5, 6, 7, 8


def rec(kind, pid=0, line="", ut_id="", user="", host="", sec=0, usec=0, addr=(0, 0, 0, 0)):
    return struct.pack(FMT, kind, pid, line.encode(), ut_id.encode(), user.encode(), host.encode(),
                       0, 0, 0, sec, usec, *addr, b"")


RECORDS = [
    rec(BOOT_TIME, line="~", ut_id="~~", user="reboot", host="6.8.0-49-generic", sec=1763690000),
    rec(RUN_LVL, pid=53, line="~", ut_id="~~", user="runlevel", host="6.8.0-49-generic", sec=1763690005),
    rec(USER_PROCESS, pid=1200, line="tty1", ut_id="tty1", user="alice", sec=1763690100, usec=12),
    rec(USER_PROCESS, pid=2301, line="pts/0", ut_id="ts/0", user="bob", host="203.0.113.7",
        sec=1763700000, addr=(0x0771_00cb, 0, 0, 0)),
    # A session that ended: getutxent still returns it, psutil skips it.
    rec(DEAD_PROCESS, pid=2290, line="pts/3", ut_id="ts/3", sec=1763699000),
    rec(LOGIN_PROCESS, pid=901, line="tty2", ut_id="tty2", user="LOGIN", sec=1763690010),
    rec(USER_PROCESS, pid=3100, line="pts/1", ut_id="ts/1", user="alice", host=":0", sec=1763701000),
    # An empty slot (all zero), as left by a cleared entry.
    rec(EMPTY),
    rec(USER_PROCESS, pid=4000, line="pts/2", ut_id="ts/2", user="carol", host="build-01.example.net",
        sec=1763702000),
]

if __name__ == "__main__":
    out = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/modern/var/run/utmp"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(b"".join(RECORDS))
    print(f"wrote {out} ({len(RECORDS)} records)")
