"""psutil 7.2.2 as the oracle for the filesystem and disk collectors.

Live host: vitals runs with a 1 s interval; psutil readings and scrapes alternate every
~20 ms. `vitals_collector_last_success_timestamp_seconds` (L) is when a collection was
published; a collector's collections run one after the other, so the collection published
at L[k] read the host inside (L[k-1], L[k]]. The last psutil reading finished before L[k-1]
and the first started after L[k] bracket it: a counter lies between them, a gauge inside the
range psutil saw between them (see test_psutil_oracle.py for the same reasoning). A scrape is
trusted only when the next scrape shows the same L.

Fixture trees: psutil reads PROCFS_PATH, so pointing psutil and `vitals once` at the same
fixture must give the same numbers exactly.
"""
import os
import re
import subprocess
import time
import tomllib
from dataclasses import dataclass

import psutil
import pytest

from conftest import BIN, parse_exposition
from test_fixture_oracle import procfs, vitals_once  # noqa: F401 (procfs is a fixture)
from test_psutil_oracle import catalog

CONFIG = """
[collectors.filesystem]
interval = "1s"
timeout = "1s"
statfs_timeout = "500ms"

[collectors.disk]
interval = "1s"
timeout = "1s"
"""

# psutil's disk_io_counters fields, with the vitals series (and scale) each one maps to.
DISK_FIELDS = {
    "read_count": ("system_disk_operations_total", "read", 1),
    "write_count": ("system_disk_operations_total", "write", 1),
    "read_bytes": ("system_disk_io_bytes_total", "read", 1),
    "write_bytes": ("system_disk_io_bytes_total", "write", 1),
    "read_time": ("system_disk_operation_time_seconds_total", "read", 1000),
    "write_time": ("system_disk_operation_time_seconds_total", "write", 1000),
    "read_merged_count": ("system_disk_merged_total", "read", 1),
    "write_merged_count": ("system_disk_merged_total", "write", 1),
    "busy_time": ("system_disk_io_time_seconds_total", None, 1000),
}


def default_filters():
    """The default include/exclude patterns, from the shipped default config."""
    text = subprocess.run([str(BIN), "print-default-config"], capture_output=True, text=True, check=True).stdout
    c = tomllib.loads(text)["collectors"]

    def compile_filter(f):
        inc, exc = f.get("include"), f.get("exclude")
        return lambda name: ((inc is None or re.fullmatch(inc, name) is not None)
                             and (exc is None or re.fullmatch(exc, name) is None))

    return (compile_filter(c["filesystem"]["mountpoints"]), compile_filter(c["filesystem"]["fs_types"]),
            compile_filter(c["disk"]["devices"]))


MOUNTPOINTS, FS_TYPES, DEVICES = default_filters()


def mode(opts):
    return "ro" if opts.split(",")[0] == "ro" else "rw"


def exported_mounts(samples):
    return {
        dict(labels)["system_filesystem_mountpoint"]: dict(labels)
        for (name, labels) in samples
        if name == "system_filesystem_limit_bytes"
    }


def exported_options(samples):
    """psutil's opts per mount point, from the options info series."""
    return {
        dict(labels)["system_filesystem_mountpoint"]: dict(labels)["system_filesystem_options"]
        for (name, labels) in samples
        if name == "system_filesystem_options_info"
    }


def value(samples, name, **labels):
    return samples[(name, frozenset(labels.items()))]


# --------------------------------------------------------------------------- live host


@dataclass
class Reading:
    t0: float
    t1: float
    usage: dict  # mountpoint -> psutil disk_usage
    inodes: dict  # mountpoint -> (f_files, f_ffree)
    io: dict  # device -> psutil sdiskio


def read_psutil(mountpoints):
    t0 = time.time()
    usage, inodes = {}, {}
    for mp in mountpoints:
        usage[mp] = psutil.disk_usage(mp)
        st = os.statvfs(mp)
        inodes[mp] = (st.f_files, st.f_ffree)
    io = psutil.disk_io_counters(perdisk=True)
    return Reading(t0, time.time(), usage, inodes, io)


def capture(daemon, collector, mountpoints):
    """(samples, lo, hi, readings between): a trusted scrape of `collector` and the psutil
    readings that bracket its collection."""
    me = frozenset({("collector", collector)})
    readings, published = [], []
    end = time.time() + 15
    while time.time() < end:
        readings.append(read_psutil(mountpoints))
        samples = parse_exposition(daemon.metrics_text())
        L = samples[("vitals_collector_last_success_timestamp_seconds", me)]
        if published and published[-1][0] == L and len(published) >= 2:
            prev_L = next(p for p, _ in reversed(published) if p != L)
            before = [r for r in readings if r.t1 <= prev_L]
            if before:
                readings.append(read_psutil(mountpoints))
                lo = before[-1]
                hi = next(r for r in readings if r.t0 >= L)
                between = readings[readings.index(lo):readings.index(hi) + 1]
                return published[-1][1], lo, hi, between
        if not published or published[-1][0] != L:
            published.append((L, samples))
        time.sleep(0.02)
    raise AssertionError("no trusted scrape bracketed by psutil readings")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from conftest import Daemon

    d = Daemon([], CONFIG, tmp_path_factory.mktemp("disk-oracle"))
    d.wait_ready()
    yield d
    d.stop()


def test_partitions_equal_psutil(live):
    samples = parse_exposition(live.metrics_text())
    exported = exported_mounts(samples)
    every = {p.mountpoint: p for p in psutil.disk_partitions(all=True)}
    assert exported, "at least the root filesystem"
    for mp, labels in exported.items():
        p = every[mp]
        assert labels["system_device"] == p.device, mp
        assert labels["system_filesystem_type"] == p.fstype, mp
        assert labels["system_filesystem_mode"] == mode(p.opts), mp
        assert MOUNTPOINTS(mp) and FS_TYPES(p.fstype)
    options = exported_options(samples)
    assert set(exported) <= set(options)
    for mp, opts in options.items():
        assert opts == every[mp].opts, mp
    # Every physical partition (psutil's all=False) that the default filters keep is
    # exported, at this mount point or, for a device mounted twice, at another one.
    devices = {labels["system_device"] for labels in exported.values()}
    for p in psutil.disk_partitions(all=False):
        if MOUNTPOINTS(p.mountpoint) and FS_TYPES(p.fstype):
            assert p.mountpoint in exported or p.device in devices, p


def test_every_cataloged_family_is_exported_with_its_labels(live):
    samples = parse_exposition(live.metrics_text())
    exported = {}
    for name, labels in samples:
        exported.setdefault(name, set()).add(frozenset(k for k, _ in labels))
    documented = {**catalog("filesystem"), **catalog("disk")}
    # Only a hung mount has a vitals_filesystem_stuck series (test_disk_hung_mount.py).
    documented.pop("vitals_filesystem_stuck")
    for name, labels in documented.items():
        assert exported.get(name) == {labels}, (name, exported.get(name), labels)


def test_usage_and_disk_io_equal_psutil(live):
    mountpoints = sorted(exported_mounts(parse_exposition(live.metrics_text())))
    for collector in ("filesystem", "disk"):
        samples, lo, hi, between = capture(live, collector, mountpoints)
        if collector == "filesystem":
            check_usage(samples, lo, hi, between)
        else:
            check_disk_io(samples, lo, hi)


def check_usage(samples, lo, hi, between):
    for mp, labels in exported_mounts(samples).items():
        base = {k: v for k, v in labels.items()}
        total = value(samples, "system_filesystem_limit_bytes", **base)
        assert total == lo.usage[mp].total == hi.usage[mp].total, mp
        for state in ("used", "free"):
            v = value(samples, "system_filesystem_usage_bytes", **base, system_filesystem_state=state)
            seen = [getattr(r.usage[mp], state) for r in between]
            assert min(seen) <= v <= max(seen), (mp, state, v, seen)
        used = value(samples, "system_filesystem_usage_bytes", **base, system_filesystem_state="used")
        free = value(samples, "system_filesystem_usage_bytes", **base, system_filesystem_state="free")
        reserved = value(samples, "system_filesystem_usage_bytes", **base, system_filesystem_state="reserved")
        assert used + free + reserved == total
        util = value(samples, "system_filesystem_utilization_ratio", **base, system_filesystem_state="used")
        assert min(r.usage[mp].percent for r in between) - 0.05 <= round(util * 100, 1) \
            <= max(r.usage[mp].percent for r in between) + 0.05
        files = value(samples, "system_filesystem_inodes_limit", **base)
        assert files == lo.inodes[mp][0], mp
        ffree = value(samples, "system_filesystem_inodes_usage", **base, system_filesystem_state="free")
        seen = [r.inodes[mp][1] for r in between]
        assert min(seen) <= ffree <= max(seen), (mp, ffree, seen)


def check_disk_io(samples, lo, hi):
    exported = {dict(labels)["system_device"] for (name, labels) in samples if name == "system_disk_io_time_seconds_total"}
    assert exported == {d for d in lo.io if DEVICES(d)}, exported
    assert exported, "at least one disk"
    for dev in exported:
        for field, (name, direction, scale) in DISK_FIELDS.items():
            labels = {"system_device": dev}
            if direction:
                labels["disk_io_direction"] = direction
            v = round(value(samples, name, **labels) * scale)
            assert getattr(lo.io[dev], field) <= v <= getattr(hi.io[dev], field), (dev, field, v)


# --------------------------------------------------------------------------- fixtures


@pytest.mark.parametrize("fixture", ["modern", "legacy"])
def test_fixture_disk_io_equals_psutil(fixture, procfs):
    procfs(fixture)
    want = {d: c for d, c in psutil.disk_io_counters(perdisk=True, nowrap=False).items() if DEVICES(d)}
    v = vitals_once(fixture)
    got = {dict(labels)["system_device"] for (name, labels) in v if name == "system_disk_io_time_seconds_total"}
    assert got == set(want)
    for dev, c in want.items():
        for field, (name, direction, scale) in DISK_FIELDS.items():
            labels = {"system_device": dev}
            if direction:
                labels["disk_io_direction"] = direction
            assert round(value(v, name, **labels) * scale) == getattr(c, field), (dev, field)


def test_fixture_partitions_equal_psutil(procfs):
    # psutil reads <PROCFS_PATH>/self/mounts; the legacy tree has only that table.
    procfs("legacy")
    every = {p.mountpoint: p for p in psutil.disk_partitions(all=True)}
    exported = exported_mounts(vitals_once("legacy"))
    assert sorted(exported) == ["/", "/boot"]
    for mp, labels in exported.items():
        assert (labels["system_device"], labels["system_filesystem_type"], labels["system_filesystem_mode"]) \
            == (every[mp].device, every[mp].fstype, mode(every[mp].opts))
    assert exported_options(vitals_once("legacy")) == {mp: every[mp].opts for mp in exported}
