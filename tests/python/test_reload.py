"""SIGHUP reloads the config file in the real daemon: unchanged collectors keep their state,
changed ones are rebuilt, enabled/disabled ones come and go, an invalid file changes nothing,
and the listener moves without a gap."""
import os
import pathlib
import shutil
import signal
import socket
import threading
import urllib.error
import urllib.request

import pytest

from conftest import parse_exposition, wait_until

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"


def sample(daemon, name, **labels):
    samples = parse_exposition(daemon.metrics_text())
    for (n, ls), v in samples.items():
        if n == name and all(dict(ls).get(k) == want for k, want in labels.items()):
            return v
    return None


def reload(daemon, cfg_path, text):
    """Writes the new config, sends SIGHUP and waits for the daemon's verdict in its log."""
    before = len(daemon.logs)
    cfg_path.write_text(text)
    daemon.proc.send_signal(signal.SIGHUP)

    def verdict():
        for entry in daemon.logs[before:]:
            msg = entry.get("fields", {}).get("message", "")
            if msg in ("config reloaded", "config reload rejected; the running config is kept"):
                return entry
        return None

    return wait_until(verdict, what="the reload's log line")


def wait_ticks(daemon, collector, n):
    """Waits until `collector` has published at least `n` more times (its last-success
    timestamp moved `n` times)."""
    seen = [sample(daemon, "vitals_collector_last_success_timestamp_seconds", collector=collector)]

    def moved():
        stamp = sample(daemon, "vitals_collector_last_success_timestamp_seconds", collector=collector)
        if stamp != seen[-1]:
            seen.append(stamp)
        return len(seen) > n

    wait_until(moved, what=f"{n} {collector} collections")
    return seen


def config_path(daemon):
    args = daemon.proc.args
    return pathlib.Path(args[args.index("--config") + 1])


BASE = """
[collectors.memory]
interval = "{memory}"
timeout = "200ms"
[collectors.network]
interval = "500ms"
timeout = "500ms"
[collectors.disk]
enabled = {disk}
[collectors.cpu]
enabled = false
[collectors.sensors]
enabled = false
[collectors.battery]
enabled = false
[collectors.filesystem]
enabled = false
[collectors.connections]
enabled = false
"""


def base(memory="30s", disk="true"):
    return BASE.format(memory=memory, disk=disk)


def test_a_new_interval_takes_effect_at_once(start_vitals):
    d = start_vitals(base(memory="30s"))
    entry = reload(d, config_path(d), base(memory="200ms"))
    assert entry["fields"]["message"] == "config reloaded"
    assert "memory" in entry["fields"]["rebuilt"]
    # Four collections within wait_ticks' 10 s: the 30 s interval would give one at most.
    wait_ticks(d, "memory", 4)
    assert sample(d, "vitals_config_last_reload_successful") == 1


def test_disabled_and_enabled_collectors_come_and_go(start_vitals):
    d = start_vitals(base(disk="true"))
    assert "system_disk_io_bytes_total{" in d.metrics_text()
    entry = reload(d, config_path(d), base(disk="false"))
    assert entry["fields"]["stopped"] == '["disk"]'
    text = d.metrics_text()
    assert "system_disk_" not in text
    assert 'vitals_collector_up{collector="disk"}' not in text
    entry = reload(d, config_path(d), base(disk="true"))
    assert entry["fields"]["started"] == '["disk"]'
    wait_until(lambda: "system_disk_io_bytes_total{" in d.metrics_text(), what="disk series back")
    assert sample(d, "vitals_collector_up", collector="disk") == 1


def test_counters_keep_their_offsets_across_an_unrelated_reload(start_vitals, tmp_path):
    # A fixture procfs whose eth0 counter resets: the nowrap offset the network collector
    # adds is state a rebuild would lose, so the exported value would drop.
    root = tmp_path / "host"
    shutil.copytree(FIXTURES / "modern", root, symlinks=True)
    dev = root / "proc/net/dev"
    original = dev.read_text()
    d = start_vitals(base(), args=("--procfs", str(root / "proc"), "--sysfs", str(root / "sys")))
    key = dict(network_interface_name="eth0", network_io_direction="receive")
    assert sample(d, "system_network_io_bytes_total", **key) == 9813345617
    dev.write_text(original.replace("9813345617", "1000"))
    wait_until(lambda: sample(d, "system_network_io_bytes_total", **key) == 9813345617 + 1000,
               what="the reset counted through the offset")
    entry = reload(d, config_path(d), base(memory="10s"))
    assert entry["fields"]["rebuilt"] == '["memory"]', entry
    wait_ticks(d, "network", 2)
    assert sample(d, "system_network_io_bytes_total", **key) == 9813345617 + 1000, \
        "not reset: the network collector kept its state"


def test_an_invalid_config_changes_nothing(start_vitals):
    d = start_vitals(base(memory="30s"))
    cfg = config_path(d)
    entry = reload(d, cfg, base(memory="200ms") + "\n[collectors.users]\nintervall = \"5s\"\n")
    assert entry["level"] == "ERROR"
    error = entry["fields"]["error"]
    assert "intervall" in error and "line" in error, error
    # check-config prints the same message for the same file.
    import subprocess
    from conftest import BIN
    out = subprocess.run([str(BIN), "check-config", "--config", str(cfg)], capture_output=True, text=True)
    assert out.returncode == 2
    assert error in out.stderr, (error, out.stderr)
    assert sample(d, "vitals_config_last_reload_successful") == 0
    # The old 30 s interval is still in force: going back to it changes nothing.
    entry = reload(d, cfg, base(memory="30s"))
    assert entry["fields"]["message"] == "config reloaded"
    assert entry["fields"]["rebuilt"] == "[]", entry
    assert sample(d, "vitals_config_last_reload_successful") == 1


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_listener_moves_to_a_new_address(start_vitals):
    d = start_vitals(base())
    old = d.base
    port = free_port()
    entry = reload(d, config_path(d), f'[server]\nlisten = "127.0.0.1:{port}"\n' + base())
    # --listen on the command line overrides the file, as at start: the address stays.
    assert entry["fields"]["message"] == "config reloaded"
    assert d.get("/healthz")[0] == 200


def test_the_listener_moves_when_the_file_sets_it(tmp_path):
    import subprocess
    import json
    from conftest import BIN
    old_port, new_port = free_port(), free_port()
    cfg = tmp_path / "vitals.toml"
    cfg.write_text(f'[server]\nlisten = "127.0.0.1:{old_port}"\n' + base())
    proc = subprocess.Popen([str(BIN), "--config", str(cfg), "--log-format", "json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        get = lambda port, path="/healthz": urllib.request.urlopen(
            f"http://127.0.0.1:{port}{path}", timeout=2).status
        wait_until(lambda: _ok(get, old_port), what="the old address")
        cfg.write_text(f'[server]\nlisten = "127.0.0.1:{new_port}"\n' + base())
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: _ok(get, new_port), what="the new address")
        wait_until(lambda: not _ok(get, old_port), what="the old address closed")
        # An address that cannot be bound rejects the reload; the new one keeps serving.
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        cfg.write_text(f'[server]\nlisten = "127.0.0.1:{taken}"\n' + base())
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "vitals_config_last_reload_successful 0" in urllib.request.urlopen(
            f"http://127.0.0.1:{new_port}/metrics", timeout=2).read().decode(), what="rejected reload")
        holder.close()
    finally:
        proc.terminate()
        proc.wait(10)
    log = proc.stderr.read()
    assert f'server.listen = \\"127.0.0.1:{taken}\\": the address is already in use' in log, log


def _ok(get, port):
    try:
        return get(port) == 200
    except (OSError, urllib.error.URLError):
        return False


def test_a_log_level_change_applies(start_vitals):
    d = start_vitals(base())
    cfg = config_path(d)
    stamp = sample(d, "vitals_config_last_reload_success_timestamp_seconds")
    before = len(d.logs)
    cfg.write_text('[log]\nlevel = "warn"\n' + base())
    d.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: sample(d, "vitals_config_last_reload_success_timestamp_seconds") > stamp,
               what="the reload applied")
    # Back to info: the reload's own line shows again, and it is the first since `before`:
    # the reload at level warn logged none (the log is one ordered stream).
    entry = reload(d, cfg, '[log]\nlevel = "info"\n' + base())
    assert entry["fields"]["message"] == "config reloaded"
    messages = [e.get("fields", {}).get("message") for e in d.logs[before:]]
    assert messages.count("config reloaded") == 1, f"info hidden at level warn: {messages}"


def test_without_a_config_file_sighup_changes_nothing(tmp_path):
    import subprocess
    from conftest import BIN
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "VITALS_CONFIG"}
    proc = subprocess.Popen([str(BIN), "--listen", f"127.0.0.1:{port}", "--log-format", "json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        get = lambda port, path="/healthz": urllib.request.urlopen(
            f"http://127.0.0.1:{port}{path}", timeout=2).status
        wait_until(lambda: _ok(get, port), what="the daemon")
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: any("nothing to reload" in line for line in lines), what="the SIGHUP handled")
        assert proc.poll() is None, "SIGHUP must not kill the daemon"
        assert _ok(get, port)
    finally:
        proc.terminate()
        proc.wait(10)
        reader.join(10)


def test_readyz_turns_200_with_a_collector_that_always_fails(start_vitals, tmp_path):
    # memory reads <procfs>/meminfo: an empty procfs makes it fail every tick.
    empty = tmp_path / "empty-proc"
    empty.mkdir()
    only_memory = "\n".join(
        f"[collectors.{c}]\nenabled = false" for c in
        ["cpu", "sensors", "battery", "host", "users", "processes", "filesystem", "disk",
         "network", "interfaces", "connections"]
    ) + '\n[collectors.memory]\ninterval = "1s"\ntimeout = "1s"\n'
    d = start_vitals(only_memory, args=("--procfs", str(empty)))
    status, _, body = d.get("/readyz")
    assert status == 200, body
    assert sample(d, "vitals_collector_up", collector="memory") == 0
    assert sample(d, "vitals_collector_errors_total", collector="memory", kind="read") >= 1
    for kind in ["parse", "timeout", "panic", "thread"]:
        assert sample(d, "vitals_collector_errors_total", collector="memory", kind=kind) == 0
