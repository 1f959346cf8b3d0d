"""What a process runs after its last own reading, i.e. in its exit path: a parent forks N
children that each burn 3 ms, send their own CPU clock (CLOCK_PROCESS_CPUTIME_ID) just before
_exit, and the parent compares it with the child's whole CPU from wait4's rusage. Most of the
difference is do_exit() tearing down the address space and files, which the kernel runs after
it filled the taskstats exit record (docs/performance.md, "Exited processes").

usage: python3 bench/exit_tail.py [N]
"""
import os
import struct
import sys
import time


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    tails, own = [], []
    for _ in range(n):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            end = time.process_time() + 0.003
            while time.process_time() < end:
                pass
            os.write(w, struct.pack("d", time.process_time()))
            os._exit(0)
        os.close(w)
        t = struct.unpack("d", os.read(r, 8))[0]
        os.close(r)
        _, _, ru = os.wait4(pid, 0)
        tails.append(ru.ru_utime + ru.ru_stime - t)
        own.append(t)
    tails.sort()
    print(f"children {n}: own cpu mean {sum(own) / n * 1e3:.3f} ms; after the last reading: mean "
          f"{sum(tails) / n * 1e3:.3f} ms, median {tails[n // 2] * 1e3:.3f} ms; share "
          f"{sum(tails) / (sum(own) + sum(tails)) * 100:.1f}%")


if __name__ == "__main__":
    main()
