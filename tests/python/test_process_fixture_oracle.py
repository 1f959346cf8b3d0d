"""psutil as the oracle for the per-group process gauges on the fixture tree
tests/fixtures/processes (scripts/make_process_fixtures.py): psutil reads /proc from
PROCFS_PATH, so pointing it and `vitals once --procfs` at the same tree must give the same
sums, exactly. Groups are the default ones: one per comm (the name in /proc/<pid>/stat,
which psutil's name() may lengthen from the cmdline), kernel threads together in "kernel".
The counters start at 0 (`vitals once` sees the same tree twice), which is checked too.
"""
import pathlib
import subprocess
from collections import Counter, defaultdict

import psutil
import pytest

from conftest import BIN, REPO, parse_exposition

TREE = REPO / "tests" / "fixtures" / "processes"
PF_KTHREAD = 0x00200000


def escape(raw: bytes) -> str:
    """vitals' label value for a host name (src/host/bytes.rs)."""
    try:
        s = raw.decode()
        if "\\x" not in s:
            return s
    except UnicodeDecodeError:
        pass
    out = []
    i = 0
    while i < len(raw):
        for j in range(min(len(raw), i + 4), i, -1):
            try:
                ch = raw[i:j].decode()
            except UnicodeDecodeError:
                continue
            out.append("\\\\" if ch == "\\" else ch)
            i = j
            break
        else:
            out.append(f"\\x{raw[i]:02x}")
            i += 1
    return "".join(out)


def group_of(pid):
    data = (TREE / "proc" / str(pid) / "stat").read_bytes()
    comm = data[data.index(b"(") + 1:data.rindex(b")")]
    flags = int(data[data.rindex(b")") + 2:].split()[6])
    if flags & PF_KTHREAD:
        return "kernel"
    # With no rule the group is psutil's name(): the full name when comm was cut at 15 bytes
    # (psutil.PROCFS_PATH points at the tree here).
    return psutil.Process(pid).name() if len(comm) >= 15 else escape(comm)


@pytest.fixture
def procfs():
    saved = psutil.PROCFS_PATH
    psutil.PROCFS_PATH = str(TREE / "proc")
    yield
    psutil.PROCFS_PATH = saved


def vitals_once(config="processes-only.toml"):
    out = subprocess.run(
        [str(BIN), "--config", str(REPO / "tests" / "fixtures" / "configs" / config), "once",
         "--procfs", str(TREE / "proc"), "--sysfs", str(TREE / "sys"), "--rootfs", str(TREE)],
        capture_output=True, text=True, check=True,
    )
    return parse_exposition(out.stdout)


def by_group(v, name, **labels):
    out = {}
    for (n, ls), value in v.items():
        ls = dict(ls)
        if n == name and all(ls.get(k) == x for k, x in labels.items()):
            out[ls["process_group"]] = value
    return out


def test_group_gauges_equal_psutil_sums(procfs):
    want = defaultdict(Counter)
    states = defaultdict(Counter)
    oldest = {}
    for pid in psutil.pids():
        p = psutil.Process(pid)
        g = group_of(pid)
        m = p.memory_info()
        fd_dir = TREE / "proc" / str(pid) / "fd"
        # A directory cannot be empty in git: a placeholder file stands in, which psutil
        # counts and vitals (which counts descriptor numbers only) does not.
        placeholder = 1 if (fd_dir / ".keep").exists() else 0
        want[g].update(rss=m.rss, vms=m.vms, shared=m.shared, threads=p.num_threads(),
                       fds=p.num_fds() - placeholder)
        states[g][p.status()] += 1
        oldest[g] = min(oldest.get(g, float("inf")), p.create_time())
    v = vitals_once()
    assert set(by_group(v, "process_memory_usage_bytes")) == set(want)
    for metric, field in [("process_memory_usage_bytes", "rss"), ("process_memory_virtual_bytes", "vms"),
                          ("process_memory_shared_bytes", "shared"), ("process_thread_count", "threads"),
                          ("process_unix_file_descriptor_count", "fds")]:
        got = by_group(v, metric)
        assert got == {g: want[g][field] for g in want}, metric
    for g, counts in states.items():
        for state, n in counts.items():
            assert v[("process_count", frozenset({("process_group", g), ("process_state", state)}))] == n
    got = by_group(v, "process_oldest_start_time_seconds")
    assert got == pytest.approx(oldest, abs=1e-6)
    # One walk: the groups add up to the system-wide counts.
    total = sum(x for (n, _), x in v.items() if n == "process_count")
    assert total == sum(x for (n, _), x in v.items() if n == "system_process_count") == len(psutil.pids())
    for g in want:
        for mode in ("user", "system"):
            assert v[("process_cpu_time_seconds_total", frozenset({("process_group", g), ("cpu_mode", mode)}))] == 0


def test_unreadable_io_leaves_the_value_out(procfs):
    # 702's io cannot be read (a directory in the fixture): psutil raises, vitals leaves it
    # out of the nginx group and counts the read; the other two nginx processes still count.
    with pytest.raises(OSError):
        psutil.Process(702).io_counters()
    v = vitals_once()
    assert ("process_disk_io_bytes_total",
            frozenset({("process_group", "nginx"), ("disk_io_direction", "read")})) in v
    assert v[("vitals_process_reads_denied_total", frozenset({("file", "io")}))] == 2  # two readings


def test_rules_group_and_top(procfs):
    v = vitals_once("processes-rules.toml")
    count = Counter()
    for (n, ls), x in v.items():
        if n == "process_count":
            count[dict(ls)["process_group"]] += x
    # max_groups = 5: "shell" (bash with its children) finds the table full.
    assert count == {"web-www-data": 2, "nginx": 1, "java:/etc/app/prod.yml": 1, "unit:systemd-journald": 1,
                     "kernel": 3, "other": 7}
    assert v[("vitals_process_groups_folded", frozenset())] == 1
    top = {dict(ls)["process_pid"]: dict(ls) for (n, ls), _ in v.items() if n == "process_top_memory_usage_bytes"}
    assert set(top) == {"903", "310"}, "the two largest RSS"
    assert top["903"]["process_owner"] == "alice"
    assert top["903"]["process_command_line"] == " ".join(psutil.Process(903).cmdline())
