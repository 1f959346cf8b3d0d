"""Live cgroups for the tests: a slice in this machine's cgroup v2 hierarchy with a busy loop
and a sleeper in two services, removed afterwards (processes killed, directories rmdir'ed).
Needs root and a v2 hierarchy where mkdir works: /sys/fs/cgroup (pure v2) or
/sys/fs/cgroup/unified (hybrid)."""
import os
import pathlib
import subprocess
import time

import pytest


def v2_root():
    for d in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        if pathlib.Path(d, "cgroup.controllers").is_file():
            return pathlib.Path(d)
    return None


def cpu_stat(cg):
    return {k: int(v) for k, v in (l.split() for l in (cg / "cpu.stat").read_text().splitlines())}


def remove_cgroup(root, cg, timeout=10):
    """Moves what is left in `cg` to `root` and removes it, retrying while the kernel still
    holds exiting tasks there."""
    end = time.time() + timeout
    while cg.exists():
        try:
            for pid in (cg / "cgroup.procs").read_text().split():
                (root / "cgroup.procs").write_text(pid)
            cg.rmdir()
        except OSError:
            if time.time() > end:
                raise
            time.sleep(0.05)


class LiveCgroups:
    """`<root>/<slice>/busy.service` (a shell spinning) and `sleeper.service` (sleep)."""

    def __init__(self, slice_name=None):
        root = v2_root()
        if root is None or os.geteuid() != 0:
            pytest.skip("needs root and a cgroup v2 hierarchy")
        self.root = root
        self.slice = root / (slice_name or f"vitals-test-{os.getpid()}.slice")
        try:
            self.slice.mkdir(exist_ok=True)
        except OSError as e:
            pytest.skip(f"cannot create a cgroup under {root}: {e}")
        self.procs = {}
        for name, cmd in [("busy.service", "while :; do :; done"), ("sleeper.service", "exec sleep 3600")]:
            cg = self.slice / name
            cg.mkdir(exist_ok=True)
            # The shell moves itself into the cgroup before running the workload.
            self.procs[name] = subprocess.Popen(
                ["sh", "-c", f'echo $$ > "{cg}/cgroup.procs" && {cmd}'])
        end = time.time() + 10
        while any((self.slice / n / "cgroup.procs").read_text().strip() == "" for n in self.procs):
            if time.time() > end:
                raise TimeoutError("processes never entered their cgroups")
            time.sleep(0.02)

    def path(self, name):
        return self.slice / name

    def label(self, name):
        """The cgroup_path label vitals gives it."""
        return "/" + str((self.slice / name).relative_to(self.root))

    def remove(self, name):
        """Kills the cgroup's processes and removes it."""
        proc = self.procs.pop(name, None)
        if proc is not None:
            proc.kill()
            proc.wait()
        remove_cgroup(self.root, self.slice / name)

    def close(self):
        for name in list(self.procs):
            self.remove(name)
        for cg in sorted(self.slice.glob("*"), reverse=True):
            if cg.is_dir():
                cg.rmdir()
        if self.slice.exists():
            self.slice.rmdir()
