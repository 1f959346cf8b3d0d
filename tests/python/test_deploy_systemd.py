"""deploy/systemd/vitals.service checked by systemd itself: `systemd-analyze verify` in a root
holding the unit, the binary and /bin/kill, with no warning at all, and `systemd-analyze
security --offline=true` rating it 2.0 or less, without the sandboxing that would hide the
host from vitals. The config the unit runs with passes `vitals check-config`."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import BIN, REPO

UNIT = REPO / "deploy" / "systemd" / "vitals.service"
pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                reason="systemd-analyze comes with systemd (Debian's systemd package)")


def unit_root(tmp_path, text):
    """A root for `systemd-analyze --root`: the system's unit files, our unit, and the
    executables it names."""
    root = tmp_path / "root"
    (root / "etc" / "systemd" / "system").mkdir(parents=True)
    (root / "usr" / "local" / "bin").mkdir(parents=True)
    (root / "bin").mkdir()
    shutil.copytree("/usr/lib/systemd/system", root / "usr" / "lib" / "systemd" / "system", symlinks=True)
    shutil.copy(BIN, root / "usr" / "local" / "bin" / "vitals")
    shutil.copy(shutil.which("kill", path="/bin:/usr/bin"), root / "bin" / "kill")
    (root / "etc" / "systemd" / "system" / "vitals.service").write_text(text)
    return root


def verify(root):
    return subprocess.run(["systemd-analyze", "verify", f"--root={root}", "vitals.service"],
                          capture_output=True, text=True)


def test_unit_verifies_without_warnings(tmp_path):
    run = verify(unit_root(tmp_path, UNIT.read_text()))
    assert run.returncode == 0 and run.stdout + run.stderr == "", run.stdout + run.stderr


def test_verify_catches_a_misspelt_directive(tmp_path):
    run = verify(unit_root(tmp_path, UNIT.read_text().replace("PrivateTmp=yes", "PrivatTmp=yes")))
    assert "Unknown key" in run.stderr and "PrivatTmp" in run.stderr


def security(path):
    run = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(path)],
                         capture_output=True, text=True)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", run.stdout)
    assert m, run.stdout + run.stderr
    return float(m.group(1)), m.group(2), run.stdout


def test_security_exposure_is_ok():
    exposure, rating, _ = security(UNIT)
    assert exposure <= 2.0 and rating == "OK", (exposure, rating)
    documented = re.search(r"exposure\s+(?:level\s+)?of\s+(\d+\.\d+)", (REPO / "README.md").read_text())
    assert documented and float(documented.group(1)) == exposure, "update the figure in README.md"


def test_security_rates_a_bare_unit_worse(tmp_path):
    bare = tmp_path / "bare.service"
    bare.write_text("[Service]\nExecStart=/usr/local/bin/vitals\n")
    assert security(bare)[0] > 9


def test_unit_keeps_the_host_visible():
    directives = dict(line.split("=", 1) for line in UNIT.read_text().splitlines()
                      if "=" in line and not line.startswith("#"))
    required = {"DynamicUser": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
                "NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "Restart": "on-failure",
                "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX AF_NETLINK",
                "ExecStartPre": "/usr/local/bin/vitals check-config", "ExecReload": "/bin/kill -HUP $MAINPID"}
    for key, value in required.items():
        assert directives.get(key) == value, key
    assert "@system-service" in UNIT.read_text()
    assert directives["MemoryMax"].endswith("M")
    for hiding in ("PrivateNetwork", "ProtectProc", "ProcSubset", "PrivateUsers", "PrivatePIDs"):
        assert hiding not in directives, hiding


def test_the_units_config_path_takes_the_default_config(tmp_path):
    cfg = tmp_path / "vitals.toml"
    cfg.write_text(subprocess.run([str(BIN), "print-default-config"], capture_output=True, text=True,
                                  check=True).stdout)
    env = dict(os.environ, VITALS_CONFIG=str(cfg))
    run = subprocess.run([str(BIN), "check-config"], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    assert "Environment=VITALS_CONFIG=/etc/vitals/vitals.toml" in UNIT.read_text()
