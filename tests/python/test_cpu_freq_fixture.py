"""cpu_freq when `cpuinfo_cur_freq` cannot be read: psutil 7.2.2 as the oracle on copies of the
modern fixture tree.

/proc/cpuinfo has no "cpu MHz" line in these trees, so the current frequency comes from
cpufreq: `scaling_cur_freq`, and `cpuinfo_cur_freq` only when that cannot be read. psutil
reads /sys/devices/system/cpu at its fixed path, so it runs in a private mount namespace with
the tree's sys bind-mounted over /sys (as in test_sensors_fixture_oracle), and reads cpuinfo
from PROCFS_PATH. Both run as root on a tree where `cpuinfo_cur_freq` is a directory, and as
nobody (setpriv) on a tree where it is the kernel's root-only file (mode 0400): the case of an
unprivileged daemon.
"""
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import BIN, REPO, parse_exposition
from test_sensors_fixture_oracle import in_namespace

MODERN = REPO / "tests" / "fixtures" / "modern"
NOBODY = "setpriv --reuid=65534 --regid=65534 --clear-groups"
ONLY_CPU = "\n".join(
    f"[collectors.{c}]\nenabled = false"
    for c in ("memory", "host", "users", "processes", "filesystem", "disk", "network",
              "interfaces", "connections", "sensors", "battery")
) + "\n"

PSUTIL_FREQ = r"""
import json, os, psutil
psutil.PROCFS_PATH = os.environ["ARG1"]
print(json.dumps([list(f) for f in psutil.cpu_freq(percpu=True)]))
"""


@pytest.fixture
def tree():
    """A world-readable copy of the modern tree without cpuinfo MHz lines, each policy with
    its own scaling_cur_freq; removed after the test."""
    base = tempfile.mkdtemp(prefix="vitals-cpufreq-")
    os.chmod(base, 0o755)
    root = os.path.join(base, "tree")
    shutil.copytree(MODERN, root, symlinks=True)
    with open(os.path.join(root, "proc", "cpuinfo"), "w") as f:
        f.write("processor\t: 0\n")
    for i in range(4):
        with open(policy(root, i, "scaling_cur_freq"), "w") as f:
            f.write(f"{1_000_000 + 100_000 * i}\n")
    yield root
    shutil.rmtree(base)


def policy(root, i, name=""):
    return os.path.join(root, "sys", "devices", "system", "cpu", "cpufreq", f"policy{i}", name)


def psutil_freq(root, user=""):
    """psutil's cpu_freq(percpu=True) on the tree, run as `user` (a setpriv prefix) if set."""
    # The setup ends by exec'ing the script itself, so that it runs under `user`.
    setup = f'mount --bind "$ARG2" /sys\nexec {user} "$PY" -c "$SCRIPT"'
    return in_namespace(setup, PSUTIL_FREQ, os.path.join(root, "proc"), os.path.join(root, "sys"))


def vitals_freq(root, user=""):
    cfg = os.path.join(os.path.dirname(root), "vitals.toml")
    with open(cfg, "w") as f:
        f.write(ONLY_CPU)
    out = subprocess.run(
        [*user.split(), str(BIN), "--config", cfg, "once", "--procfs", os.path.join(root, "proc"),
         "--sysfs", os.path.join(root, "sys"), "--rootfs", root],
        capture_output=True, text=True, check=True,
    )
    v = parse_exposition(out.stdout)
    got = {}
    for (name, labels), value in v.items():
        labels = dict(labels)
        if name.startswith("system_cpu_frequency") and "cpu_logical_number" in labels:
            got[(name, int(labels["cpu_logical_number"]))] = value
    skipped = sum(x for (name, labels), x in v.items()
                  if name == "vitals_collector_errors_total" and ("collector", "cpu") in labels)
    return got, skipped


def as_series(freqs):
    """psutil's cpu_freq(percpu=True) (MHz) as vitals' series (Hz)."""
    out = {}
    for i, (current, low, high) in enumerate(freqs):
        out[("system_cpu_frequency_hertz", i)] = current * 1e6
        out[("system_cpu_frequency_min_hertz", i)] = low * 1e6
        out[("system_cpu_frequency_max_hertz", i)] = high * 1e6
    return out


def test_a_directory_in_place_of_cpuinfo_cur_freq(tree):
    for i in range(4):
        os.mkdir(policy(tree, i, "cpuinfo_cur_freq"))
    ps = psutil_freq(tree)
    assert [f[0] for f in ps] == [1000.0, 1100.0, 1200.0, 1300.0]
    got, skipped = vitals_freq(tree)
    assert got == as_series(ps)
    assert skipped == 0


def test_root_only_cpuinfo_cur_freq_read_by_nobody(tree):
    for i in range(4):
        path = policy(tree, i, "cpuinfo_cur_freq")
        with open(path, "w") as f:
            f.write("2500000\n")
        os.chmod(path, 0o400)
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv(1)")
    ps = psutil_freq(tree, NOBODY)
    assert [f[0] for f in ps] == [1000.0, 1100.0, 1200.0, 1300.0]
    got, skipped = vitals_freq(tree, NOBODY)
    assert got == as_series(ps)
    assert skipped == 0
    # Without scaling_cur_freq on policy0, nobody cannot fall back to cpuinfo_cur_freq:
    # psutil raises, vitals skips the frequencies and counts it, and keeps the rest.
    os.remove(policy(tree, 0, "scaling_cur_freq"))
    got, skipped = vitals_freq(tree, NOBODY)
    assert got == {} and skipped == 1
    got, _ = vitals_freq(tree)
    assert got[("system_cpu_frequency_hertz", 0)] == 2500000e3, "root reads cpuinfo_cur_freq"


def test_an_offline_policy_reports_zeros(tree):
    """An inactive policy's attributes fail with EBUSY: here scaling_cur_freq and
    cpuinfo_cur_freq are directories, and cpu3 is offline."""
    os.remove(policy(tree, 3, "scaling_cur_freq"))
    os.mkdir(policy(tree, 3, "scaling_cur_freq"))
    os.mkdir(policy(tree, 3, "cpuinfo_cur_freq"))
    with open(os.path.join(tree, "sys", "devices", "system", "cpu", "cpu3", "online"), "w") as f:
        f.write("0\n")
    ps = psutil_freq(tree)
    assert ps[3] == [0.0, 0.0, 0.0]
    got, skipped = vitals_freq(tree)
    assert got == as_series(ps)
    assert skipped == 0
