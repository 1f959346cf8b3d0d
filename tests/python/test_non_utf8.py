"""Host names that are not UTF-8: psutil 7.2.2 as the oracle on tests/fixtures/non-utf8, and
a live interface named by the bytes e9 74 68 30 in a private network namespace.

psutil decodes host names with `surrogateescape`; vitals exports the same bytes escaped
(`host::bytes::escape`, docs/metrics.md): valid UTF-8 without a `\\x` as it is, otherwise
each byte that is not UTF-8 as `\\xNN` and each backslash doubled. `escape` below is that
rule, applied to the bytes psutil's string stands for (`os.fsencode`).
"""
import json
import os
import shutil
import subprocess
import sys

import psutil
import pytest

from conftest import BIN, REPO, parse_exposition
from test_fixture_oracle import procfs  # noqa: F401 (a fixture)
from test_network_oracle import NETIO
from test_sensors_fixture_oracle import in_namespace, samples, vitals_once

FIXTURES = REPO / "tests" / "fixtures"
TREE = FIXTURES / "non-utf8"
CONFIG = "non-utf8.toml"


def escape(name):
    """The label value of a host name psutil returned (a str, surrogate-escaped)."""
    raw = os.fsencode(name)
    text = raw.decode("utf-8", "surrogateescape")
    if all(not 0xDC80 <= ord(c) <= 0xDCFF for c in text) and "\\x" not in text:
        return text
    out = []
    for c in text:
        if 0xDC80 <= ord(c) <= 0xDCFF:
            out.append(f"\\x{ord(c) - 0xDC00:02x}")
        elif c == "\\":
            out.append("\\\\")
        else:
            out.append(c)
    return "".join(out)


def test_the_escape_rule():
    assert escape("eth0") == "eth0"
    assert escape("café") == "café"
    assert escape(os.fsdecode(b"\xe9th0")) == "\\xe9th0"
    assert escape("br\\x41") == "br\\\\x41"


def netio(v):
    """{(interface label, psutil field): value} from an exposition."""
    out = {}
    for field, (name, direction) in NETIO.items():
        for labels, value in samples(v, name):
            if labels["network_io_direction"] == direction:
                out[(labels["network_interface_name"], field)] = value
    return out


def test_interface_and_disk_counters_equal_psutil(procfs):
    procfs("non-utf8")
    v, _ = vitals_once(TREE, CONFIG)
    nics = psutil.net_io_counters(pernic=True, nowrap=False)
    assert os.fsdecode(b"\xe9th0") in nics
    want = {(escape(nic), f): getattr(c, f) for nic, c in nics.items() for f in NETIO}
    assert netio(v) == want

    disks = psutil.disk_io_counters(perdisk=True, nowrap=False)
    assert os.fsdecode(b"sd\xe9") in disks
    got = {
        (l["system_device"], l["disk_io_direction"]): x
        for l, x in samples(v, "system_disk_operations_total")
    }
    assert got == {
        (escape(d), direction): getattr(c, f"{direction}_count")
        for d, c in disks.items()
        for direction in ("read", "write")
    }


PSUTIL_SENSORS = r"""
import json, psutil
b = psutil.sensors_battery()
print(json.dumps({
    "temps": [[k, t.label, t.current] for k, v in psutil.sensors_temperatures().items() for t in v],
    "fans": [[k, f.label, f.current] for k, v in psutil.sensors_fans().items() for f in v],
    "battery": None if b is None else b.percent,
}))
"""


def test_sensor_names_and_labels_equal_psutil():
    ps = in_namespace('mount --bind "$ARG1" /sys', PSUTIL_SENSORS, TREE / "sys")
    v, _ = vitals_once(TREE, CONFIG)
    assert sorted(
        (l["hw_name"], l["hw_sensor_location"], x) for l, x in samples(v, "hw_temperature_celsius")
    ) == sorted((escape(chip), escape(label), cur) for chip, label, cur in ps["temps"])
    assert [(l["hw_name"], l["hw_sensor_location"], x) for l, x in samples(v, "hw_fan_speed_rpm")] == [
        (escape(chip), escape(label), cur) for chip, label, cur in ps["fans"]
    ]
    assert ("Syst\\xe8me", "Pompe \\xe0 eau") == (
        escape(ps["temps"][0][1]), escape(ps["fans"][0][1]))
    charge = samples(v, "hw_battery_charge_ratio")
    assert [(l["hw_id"], x * 100) for l, x in charge] == [("BAT\\xb9", pytest.approx(ps["battery"]))]


# --------------------------------------------------------------------------- live

LIVE_NAME = b"\xe9th0"
LIVE_CONFIG = "\n".join(
    f"[collectors.{c}]\nenabled = false"
    for c in ("cpu", "memory", "host", "users", "processes", "filesystem", "disk",
              "connections", "sensors", "battery")
) + "\n"

# Inside the namespace: psutil's view, then whether its net_if_* functions cope.
PSUTIL_LIVE = r"""
import json, os, psutil
out = {"netio": {os.fsencode(k).hex(): [v.bytes_recv, v.bytes_sent, v.packets_recv, v.packets_sent]
                 for k, v in psutil.net_io_counters(pernic=True).items()}}
for fn in ("net_if_stats", "net_if_addrs"):
    try:
        getattr(psutil, fn)()
        out[fn] = "ok"
    except UnicodeError as e:
        out[fn] = type(e).__name__
print(json.dumps(out))
"""


def test_live_interface_named_by_bytes_that_are_not_utf8(tmp_path):
    """In a new network namespace (so no other test sees it) with its own sysfs: a veth
    pair, one end named e9 74 68 30 with an IPv4 address. The kernel accepts the name;
    vitals reads it from /proc/net/dev, /sys/class/net/<bytes> and getifaddrs(3)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("needs root, unshare(1) and ip(8)")
    cfg = tmp_path / "vitals.toml"
    cfg.write_text(LIVE_CONFIG)
    out = tmp_path / "once.prom"
    setup = (
        'mount -t sysfs sysfs /sys\n'
        'N=$(printf "\\351th0")\n'
        'ip link add name "$N" type veth peer name peer0\n'
        'ip link set "$N" address 52:54:00:00:e9:01\n'
        'ip addr add 10.9.0.1/24 brd + dev "$N"\n'
        'ip link set "$N" up\nip link set peer0 up\nip link set lo up\n'
        '"$VITALS" --config "$CFG" once > "$OUT"\n'
        'ls /sys/class/net > "$OUT.ls"\n'
    )
    cmd = ["unshare", "-n", "-m", "--propagation", "private", "sh", "-ec",
           setup + 'exec "$PY" -c "$SCRIPT"']
    env = dict(os.environ, PY=sys.executable, SCRIPT=PSUTIL_LIVE, VITALS=str(BIN), CFG=str(cfg), OUT=str(out))
    run = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if run.returncode != 0 and ("Operation not permitted" in run.stderr or "Unknown device type" in run.stderr):
        pytest.skip(f"no network namespace with veth here: {run.stderr.strip()}")
    assert run.returncode == 0, run.stderr
    ps = json.loads(run.stdout)
    assert LIVE_NAME in (tmp_path / "once.prom.ls").read_bytes().split(b"\n"), "the kernel renamed it"
    v = parse_exposition(out.read_text())
    label = "\\xe9th0"

    # Counters equal psutil's (nothing else sends on this private link between readings,
    # but IPv6 autoconfiguration may: psutil reads after vitals, so it may only be higher).
    rx, tx, prx, ptx = ps["netio"][LIVE_NAME.hex()]
    got = netio(v)
    assert got[(label, "bytes_recv")] <= rx and got[(label, "bytes_sent")] <= tx
    assert got[(label, "packets_recv")] <= prx and got[(label, "packets_sent")] <= ptx

    # psutil 7.2.2 itself cannot report this interface's status or addresses.
    assert ps["net_if_stats"] == "UnicodeEncodeError"
    assert ps["net_if_addrs"] == "UnicodeDecodeError"
    up = {l["network_interface_name"]: x for l, x in samples(v, "system_network_interface_up")}
    mtu = {l["network_interface_name"]: x for l, x in samples(v, "system_network_interface_mtu_bytes")}
    assert up[label] == 1 and mtu[label] == 1500
    addrs = {
        (l["network_type"], l["network_interface_address"], l.get("network_interface_netmask"),
         l.get("network_interface_broadcast"))
        for l, _ in samples(v, "system_network_interface_address_info")
        if l["network_interface_name"] == label
    }
    assert ("ipv4", "10.9.0.1", "255.255.255.0", "10.9.0.255") in addrs
    assert ("link", "52:54:00:00:e9:01", None, "ff:ff:ff:ff:ff:ff") in addrs
    for family, address, _, _ in addrs:
        if family == "ipv6" and address.startswith("fe80:"):
            assert address.endswith("%" + label)
    errors = {l["kind"]: x for l, x in samples(v, "vitals_collector_errors_total")
              if l.get("collector") == "interfaces"}
    assert not any(errors.values()), errors
