"""psutil 7.2.2 as the oracle for the sensors and system collectors on this live host.

- boot time: psutil.boot_time() and system_boot_time_seconds read the same btime line, so
  they must be equal exactly;
- users: psutil.users() (glibc's getutxent over /var/run/utmp) against the session list;
- processes by state: psutil's statuses are read just before and just after `vitals once`;
  a state's count must lie in the range of the two readings widened by the processes that
  changed (appeared, vanished or changed state) in between, plus the two processes the
  measurement itself moves: the reader is running while it reads and the other one waits
  (the test process while vitals reads, vitals while psutil reads);
- sensors: this host has none (psutil agrees); the daemon must export no hw_ series and no
  error, while its self-metrics show the sensors collector ran.
"""
import subprocess
import time
from collections import Counter

import psutil
import pytest

from conftest import BIN, REPO, parse_exposition

SYSTEM_ONLY = """
[collectors.cpu]
enabled = false
[collectors.memory]
enabled = false
[collectors.sensors]
enabled = false
[collectors.battery]
enabled = false
[collectors.users]
sessions_info = true
"""


def once(tmp_path, config=SYSTEM_ONLY):
    cfg = tmp_path / "vitals.toml"
    cfg.write_text(config)
    out = subprocess.run([str(BIN), "--config", str(cfg), "once"], capture_output=True, text=True, check=True)
    return parse_exposition(out.stdout)


def samples(v, name):
    return [(dict(labels), value) for (n, labels), value in v.items() if n == name]


def statuses():
    out = {}
    for p in psutil.process_iter():
        try:
            out[p.pid] = (p.status(), p.num_threads())
        except psutil.NoSuchProcess:
            pass
    return out


def test_boot_time_exact_and_uptime(tmp_path):
    v = once(tmp_path)
    assert v[("system_boot_time_seconds", frozenset())] == psutil.boot_time()
    up = v[("system_uptime_seconds", frozenset())]
    assert abs(up - (time.time() - psutil.boot_time())) < 3


def test_users_equal(tmp_path):
    before = psutil.users()
    v = once(tmp_path)
    after = psutil.users()
    assert before == after, "a login changed during the test"
    got = sorted((l["user_name"], l["user_terminal"], l["user_host"], int(l["process_pid"]))
                 for l, _ in samples(v, "system_users_session_info"))
    assert got == sorted((u.name, u.terminal or "", u.host, u.pid) for u in before)
    started = sorted((l["user_name"], l["user_terminal"], l["user_host"], int(l["process_pid"]), x)
                     for l, x in samples(v, "system_users_session_start_time_seconds"))
    assert started == sorted((u.name, u.terminal or "", u.host, u.pid, u.started) for u in before)
    counts = {l["user_name"]: x for l, x in samples(v, "system_users_count")}
    assert counts == dict(Counter(u.name for u in before))


def test_process_counts_by_state(tmp_path):
    for attempt in range(5):
        a = statuses()
        v = once(tmp_path)
        b = statuses()
        changed = {pid for pid in a.keys() | b.keys() if a.get(pid, (None,))[0] != b.get(pid, (None,))[0]}
        if len(changed) <= 10:
            break
    ca, cb = Counter(s for s, _ in a.values()), Counter(s for s, _ in b.values())
    got = {l["process_state"]: x for l, x in samples(v, "system_process_count")}
    for state in ("running", "sleeping", "disk-sleep", "stopped", "tracing-stop", "zombie", "dead", "idle",
                  "parked"):
        assert state in got, f"{state} must always be exported"
    for state in set(got) | set(ca) | set(cb):
        self_moves = 2 if state in ("running", "sleeping") else 0
        slack = len(changed) + self_moves
        lo, hi = min(ca[state], cb[state]) - slack, max(ca[state], cb[state]) + slack
        assert lo <= got.get(state, 0) <= hi, (state, got.get(state), ca[state], cb[state], changed)
    # Threads: the same, with the changed processes' threads and vitals' own (a small pool).
    ta, tb = sum(t for _, t in a.values()), sum(t for _, t in b.values())
    moved = sum(max(a.get(p, (0, 0))[1], b.get(p, (0, 0))[1]) for p in changed) + 16
    assert min(ta, tb) - moved <= v[("system_thread_count", frozenset())] <= max(ta, tb) + moved
    created = v[("system_process_created_total", frozenset())]
    assert created > 0
    assert v[("system_process_limit", frozenset())] == int(open("/proc/sys/kernel/pid_max").read())


def test_no_sensors_here_is_not_an_error(start_vitals):
    if psutil.sensors_temperatures() or psutil.sensors_fans() or psutil.sensors_battery():
        pytest.skip("this host has sensors")
    d = start_vitals("[collectors.sensors]\ninterval = \"1s\"\ntimeout = \"1s\"\n"
                     "[collectors.battery]\ninterval = \"1s\"\ntimeout = \"1s\"\n")
    deadline = time.time() + 10
    while True:
        v = parse_exposition(d.metrics_text())
        ran = v.get(("vitals_collector_last_success_timestamp_seconds",
                     frozenset({("collector", "sensors")})), 0)
        if ran > 0 or time.time() > deadline:
            break
        time.sleep(0.1)
    assert ran > 0, "the sensors collector never succeeded"
    assert not [k for k in v if k[0].startswith("hw_")]
    for collector in ("sensors", "battery"):
        errors = {dict(l)["kind"]: x for (n, l), x in v.items()
                  if n == "vitals_collector_errors_total" and dict(l)["collector"] == collector}
        assert errors and all(x == 0 for x in errors.values()), (collector, errors)
        assert v[("vitals_collector_up", frozenset({("collector", collector)}))] == 1
        assert v[("vitals_collector_series", frozenset({("collector", collector)}))] == 0
    assert not [l for l in d.logs if l.get("level") in ("WARN", "ERROR")], d.logs
