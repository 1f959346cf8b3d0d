"""A mount point and device that are not UTF-8, live: a tmpfs mounted on a directory whose
name holds a Latin-1 byte, from a source named in Latin-1 too.

vitals must read it (statvfs on the real bytes, through its helper), export it with its
labels escaped (host::bytes::escape: `\\xNN` per invalid byte, reversible) and the sizes
psutil gives for the surrogateescape'd path, and the `mountpoints` filter must match the
label as exported. Needs root (mount).
"""
import os
import re
import shutil
import subprocess
import time

import psutil
import pytest

from conftest import parse_exposition

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a tmpfs")

MOUNTPOINT = b"/tmp/vitals-caf\xe9-%d" % os.getpid()
SOURCE = b"cr\xe8me"
# Regular expressions in TOML literal strings: \\xe9 matches the escaped byte `\xe9`.
CONFIG = r"""
[collectors.filesystem]
interval = "1s"
timeout = "1s"
statfs_timeout = "500ms"

[collectors.filesystem.fs_types]
include = 'tmpfs'

[collectors.filesystem.mountpoints]
include = '/tmp/vitals-caf\\xe9-[0-9]+'
"""


def unescape(value):
    """The bytes behind a label value (the inverse of host::bytes::escape)."""
    if "\\x" not in value:
        return value.encode()
    b, out, i = value.encode(), bytearray(), 0
    while i < len(b):
        if b[i:i + 2] == b"\\\\":
            out += b"\\"
            i += 2
        elif b[i:i + 2] == b"\\x" and re.fullmatch(rb"[0-9a-fA-F]{2}", b[i + 2:i + 4]):
            out.append(int(b[i + 2:i + 4], 16))
            i += 4
        else:
            out.append(b[i])
            i += 1
    return bytes(out)


@pytest.fixture
def latin1_tmpfs():
    os.mkdir(MOUNTPOINT)
    try:
        subprocess.run([b"mount", b"-t", b"tmpfs", b"-o", b"size=8m", SOURCE, MOUNTPOINT], check=True)
        try:
            # Some usage, so used and free are both non-zero; nothing changes it afterwards.
            with open(MOUNTPOINT + b"/data", "wb") as f:
                f.write(b"x" * (3 << 20))
            yield MOUNTPOINT
        finally:
            subprocess.run([b"umount", MOUNTPOINT], check=True)
    finally:
        os.rmdir(MOUNTPOINT)


def test_a_mount_point_that_is_not_utf8_is_exported_escaped(latin1_tmpfs, start_vitals):
    # psutil's view: the names decoded with surrogateescape.
    path = os.fsdecode(latin1_tmpfs)
    partition = next(p for p in psutil.disk_partitions(all=True) if p.mountpoint == path)
    assert os.fsencode(partition.device) == SOURCE
    want = psutil.disk_usage(path)
    st = os.statvfs(latin1_tmpfs)
    assert want.total == st.f_blocks * st.f_frsize

    d = start_vitals(CONFIG)
    end = time.time() + 10
    while True:
        body = d.metrics_text()
        samples = parse_exposition(body)
        limits = {labels: v for (name, labels), v in samples.items() if name == "system_filesystem_limit_bytes"}
        if limits:
            break
        assert time.time() < end, f"no filesystem series: {body}"
        time.sleep(0.2)

    [(labels, total)] = limits.items()
    labels = dict(labels)
    assert labels["system_filesystem_mountpoint"] == "/tmp/vitals-caf\\xe9-%d" % os.getpid()
    assert unescape(labels["system_filesystem_mountpoint"]) == latin1_tmpfs
    assert labels["system_device"] == "cr\\xe8me"
    assert unescape(labels["system_device"]) == SOURCE
    assert labels["system_filesystem_type"] == "tmpfs"
    assert total == want.total

    def usage(state):
        return samples[("system_filesystem_usage_bytes", frozenset({**labels, "system_filesystem_state": state}.items()))]

    assert (usage("used"), usage("free")) == (want.used, want.free)
    assert want.used >= 3 << 20
    filesystem_errors = {dict(k[1])["kind"]: v for k, v in samples.items()
                         if k[0] == "vitals_collector_errors_total" and ("collector", "filesystem") in k[1]}
    assert not any(filesystem_errors.values()), filesystem_errors
    if shutil.which("promtool"):
        r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, text=True)
        assert r.returncode == 0, f"promtool: {r.stdout}{r.stderr}"
    # OpenMetrics carries the same escaped value.
    om = d.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})[2].decode()
    assert 'system_filesystem_mountpoint="/tmp/vitals-caf\\\\xe9-' in om, om
