"""A churn of short processes through every parent pattern of issue 18, for the conservation
law (tests/python/test_process_exits_conservation.py and bench/exit_conservation.py).

`churn(seconds, rate)` starts `rate` processes a second, each burning 2-5 ms of CPU, in
turn through:

- wait:     a parent that waits for its child;
- double:   a double fork: the middle process exits at once, the grandchild is re-parented;
- ignore:   a parent with SIGCHLD ignored (the kernel reaps its children, nobody waits);
- orphan:   a parent that burns a little and exits before its child;
- thread:   a thread of a long-lived process that burns and exits;
- timeout:  sh -> timeout -> sh, the chain that was counted twice (one in 20).

Run as a script: python3 bench/exit_churn.py SECONDS [RATE [PATTERN,...]].
"""
import os
import random
import signal
import subprocess
import sys
import threading
import time


def burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def short():
    return random.uniform(0.002, 0.005)


def _ignorer(conn_r):
    """A process with SIGCHLD ignored that forks a child per byte read."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    while True:
        b = os.read(conn_r, 1)
        if not b:
            os._exit(0)
        if os.fork() == 0:
            burn(short())
            os._exit(0)


def _threads(conn_r):
    """A process that starts a thread per byte read; each burns and exits."""
    while True:
        b = os.read(conn_r, 1)
        if not b:
            os._exit(0)
        threading.Thread(target=burn, args=(short(),), daemon=True).start()


def _helper(target):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        target(r)
    os.close(r)
    return pid, w


SH_BURN = "i=0; while [ $i -lt 400 ]; do i=$((i+1)); done"


PATTERNS = ["wait", "double", "ignore", "orphan", "thread"]


def churn(seconds, rate=200, patterns=PATTERNS):
    """Runs the churn for `seconds`; returns the number of processes (and threads) started.
    `patterns`: the ones to cycle through (the timeout chain is one in 20 whatever they are)."""
    ign_pid, ign_w = _helper(_ignorer)
    thr_pid, thr_w = _helper(_threads)
    start = time.monotonic()
    n = 0
    chains = []
    while time.monotonic() - start < seconds:
        kind = "timeout" if n % 20 == 19 else patterns[n % len(patterns)]
        if kind == "wait":
            pid = os.fork()
            if pid == 0:
                burn(short())
                os._exit(0)
            os.waitpid(pid, 0)
        elif kind in ("double", "orphan"):
            pid = os.fork()
            if pid == 0:
                if os.fork() == 0:
                    burn(short() if kind == "double" else 0.006)
                    os._exit(0)
                if kind == "orphan":
                    burn(0.001)
                os._exit(0)
            os.waitpid(pid, 0)
        elif kind == "ignore":
            os.write(ign_w, b"x")
        elif kind == "thread":
            os.write(thr_w, b"x")
        else:
            chains.append(subprocess.Popen(["sh", "-c", f"timeout 5 sh -c '{SH_BURN}'"]))
        n += 1
        chains = [c for c in chains if c.poll() is None]
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    for c in chains:
        c.wait()
    os.close(ign_w)
    os.close(thr_w)
    os.waitpid(ign_pid, 0)
    os.waitpid(thr_pid, 0)
    # The last double-forked and orphaned grandchildren.
    time.sleep(0.05)
    return n


if __name__ == "__main__":
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 10
    rate = float(sys.argv[2]) if len(sys.argv) > 2 else 200
    kinds = sys.argv[3].split(",") if len(sys.argv) > 3 else PATTERNS
    print(churn(secs, rate, kinds))
