"""What a process runs after its last own reading, i.e. in its exit path: a parent forks N
children that each burn 3 ms, send their own CPU clock (CLOCK_PROCESS_CPUTIME_ID) just before
_exit, and the parent compares it with the child's whole CPU from wait4's rusage. Most of the
difference is do_exit() tearing down the address space and files, which the kernel runs after
it filled the taskstats exit record (docs/performance.md, "Exited processes").

--perf (root, or perf_event_paranoid <= 1) also opens the software task clock on the parent,
one counter per CPU, inherited by each child with its count on exit (inherit_stat): the
count the kernel syncs from a child as it ends (perf_event_exit_task()). On a kernel that
syncs it before the teardown, the share "after the perf count" is about the whole tail: an
inherited counter cannot measure the teardown of children nobody waits for
(docs/performance.md, "What stays out"). --alloc MB: each child first touches MB of memory,
for a longer teardown.

usage: python3 bench/exit_tail.py [N] [--perf] [--alloc MB]
"""
import argparse
import ctypes
import mmap
import os
import platform
import struct
import time

PERF_EVENT_OPEN = {"x86_64": 298, "aarch64": 241}
PAGE = mmap.PAGESIZE
RING_PAGES = 16


class Counts:
    """The inherited task clock of this process's future children, one ring per CPU."""

    def __init__(self):
        nr = PERF_EVENT_OPEN[platform.machine()]
        libc = ctypes.CDLL(None, use_errno=True)
        attr = bytearray(112)
        # PERF_TYPE_SOFTWARE, size, PERF_COUNT_SW_TASK_CLOCK; flags: inherit, inherit_stat.
        struct.pack_into("IIQ", attr, 0, 1, len(attr), 1)
        struct.pack_into("Q", attr, 40, (1 << 1) | (1 << 11))
        buf = (ctypes.c_char * len(attr)).from_buffer(attr)
        self.rings = []
        for cpu in range(os.cpu_count()):
            fd = libc.syscall(nr, buf, 0, cpu, -1, 0)
            if fd < 0:
                raise OSError(ctypes.get_errno(), f"perf_event_open on cpu {cpu}")
            self.rings.append(mmap.mmap(fd, (1 + RING_PAGES) * PAGE, mmap.MAP_SHARED,
                                        mmap.PROT_READ | mmap.PROT_WRITE))

    def take(self):
        """ns each ended task ran, by pid, from the PERF_RECORD_READ records since the last call."""
        out = {}
        for m in self.rings:
            head, tail, off, size = struct.unpack_from("QQQQ", m, 1024)
            pos = tail
            while pos < head:
                at = off + pos % size
                kind, _, length = struct.unpack_from("IHH", m, at)
                if kind == 8:
                    pid, _, ns = struct.unpack_from("IIQ", m, at + 8)
                    out[pid] = out.get(pid, 0) + ns
                pos += length
            struct.pack_into("Q", m, 1032, head)
        return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("n", nargs="?", type=int, default=300)
    p.add_argument("--perf", action="store_true")
    p.add_argument("--alloc", type=int, default=0, help="MB each child touches")
    a = p.parse_args()
    counts = Counts() if a.perf else None
    tails, own, unseen = [], [], []
    for _ in range(a.n):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            if a.alloc:
                b = bytearray(a.alloc << 20)
                for i in range(0, len(b), PAGE):
                    b[i] = 1
            end = time.process_time() + 0.003
            while time.process_time() < end:
                pass
            os.write(w, struct.pack("d", time.process_time()))
            os._exit(0)
        os.close(w)
        t = struct.unpack("d", os.read(r, 8))[0]
        os.close(r)
        _, _, ru = os.wait4(pid, 0)
        whole = ru.ru_utime + ru.ru_stime
        tails.append(whole - t)
        own.append(t)
        if counts:
            # The count is synced before the child is reaped, and so before wait4 returns.
            got = counts.take()
            if pid in got:
                unseen.append(whole - got[pid] / 1e9)
    n = a.n
    tails.sort()
    print(f"children {n}: own cpu mean {sum(own) / n * 1e3:.3f} ms; after the last reading: mean "
          f"{sum(tails) / n * 1e3:.3f} ms, median {tails[n // 2] * 1e3:.3f} ms; share "
          f"{sum(tails) / (sum(own) + sum(tails)) * 100:.1f}%")
    if counts:
        unseen.sort()
        m = len(unseen)
        print(f"after the inherited perf count: mean {sum(unseen) / m * 1e3:.3f} ms, median "
              f"{unseen[m // 2] * 1e3:.3f} ms ({sum(unseen) / m / (sum(tails) / n) * 100:.0f}% of the "
              f"tail; {n - m} children without a count)")


if __name__ == "__main__":
    main()
