"""Helpers for the live processes tests: a vitals config with the processes collector alone,
helper processes with a comm of their own, and waiting for collector ticks."""
import os
import subprocess
import sys
import time

from conftest import parse_exposition

OTHERS_OFF = "".join(
    f"[collectors.{c}]\nenabled = false\n"
    for c in ("cpu", "memory", "sensors", "battery", "host", "users", "filesystem", "disk", "network",
              "interfaces", "connections"))


def config(processes="", interval="1s"):
    """The processes collector alone at `interval`, with extra keys for its section; rules and
    other tables may follow the keys."""
    return OTHERS_OFF + f'[collectors.processes]\ninterval = "{interval}"\ntimeout = "{interval}"\n' + processes


# Sets the process's comm (what /proc/<pid>/stat names it), as prctl(PR_SET_NAME) does.
SET_COMM = "def set_comm(name):\n    open('/proc/self/comm', 'w').write(name)\n"


def spawn(comm, body, python=sys.executable, **kw):
    """A Python helper whose comm is `comm`: runs `body` (with set_comm defined), which
    prints 'ready' when set up, then sleeps until killed."""
    code = SET_COMM + f"set_comm({comm!r})\n" + body + "\nimport time\nwhile True:\n    time.sleep(3600)\n"
    p = subprocess.Popen([python, "-c", code], stdout=subprocess.PIPE, text=True, **kw)
    line = p.stdout.readline()
    assert line.strip() == "ready", f"{comm} did not start: {line!r}"
    return p


def stat_fields(pid):
    """The fields of /proc/<pid>/stat after the command name, by the kernel's numbering
    (field 3 is the state)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    rest = data[data.rindex(b")") + 2:].split()
    return {i + 3: v for i, v in enumerate(rest)}


def last_tick(daemon):
    v = parse_exposition(daemon.metrics_text())
    return v.get(("vitals_collector_last_success_timestamp_seconds",
                  frozenset({("collector", "processes")})), 0), v


def wait_ticks(daemon, n=2, timeout=20):
    """Waits until the processes collector has published `n` more times; returns the last
    exposition. After two, the published tick started after this call."""
    first, _ = last_tick(daemon)
    seen, prev = 0, first
    end = time.time() + timeout
    while time.time() < end:
        t, v = last_tick(daemon)
        if t != prev:
            seen += 1
            prev = t
            if seen >= n:
                return v
        time.sleep(0.05)
    raise TimeoutError("the processes collector did not tick")


def group_values(v, group):
    """{(name, other labels as a frozenset): value} of the samples of one process group."""
    out = {}
    for (name, labels), value in v.items():
        d = dict(labels)
        if d.pop("process_group", None) == group:
            out[(name, frozenset(d.items()))] = value
    return out


def value(v, name, group, **labels):
    return v.get((name, frozenset({("process_group", group), *labels.items()})))


def kill(*procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
    for p in procs:
        p.wait()


def clk():
    return os.sysconf("SC_CLK_TCK")
