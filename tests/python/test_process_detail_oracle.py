"""psutil 7.2.2 as the oracle for the per-process (process_detail_*) series on this live host.

vitals runs the processes collector alone (1 s interval) with one grouping rule,
`per_process = true`, that takes every helper below; each helper's exported values must
equal psutil's for its pid, read just before the tick and just after the scrape:

- a Python started through a link named vt-detail-averyveryverylongname (comm cut at 15
  bytes: psutil's name() is the full name);
- one with nice 10 and ionice idle; one pinned to CPU 0 by affinity; one with limits set
  by prlimit; one with 20 open regular files; one whose second thread burns CPU (a thread
  name of its own); one listening on a TCP port with 5 established clients;
- a copy of sleep, vt-detail-del, whose binary is deleted after it started (exe ends in
  " (deleted)", which psutil's exe() strips).

Every helper has VT_DETAIL_TOKEN in its environment, exported through `environ`.

The bounds: max_processes (test_cardinality_bound) and top_threads, whose left-out threads
are counted (test_top_threads_folds_the_rest).
"""
import os
import shutil
import subprocess
import sys
import time

import psutil
import pytest

from process_support import config, kill, spawn, wait_ticks

GROUP = "vt-detail"
LONG = "vt-detail-averyveryverylongname"
TOKEN = "tok-42"

RULES = f"""environ = ["VT_DETAIL_TOKEN"]
top_threads = 2
[[collectors.processes.group]]
name = "{GROUP}"
cmdline = ['vt-detail']
per_process = true
"""

MARK = "# vt-detail\nprint('ready', flush=True)\n"
NICE = "import os, psutil\nos.nice(10)\npsutil.Process().ionice(psutil.IOPRIO_CLASS_IDLE)\n" + MARK
AFFINITY = "import os\nos.sched_setaffinity(0, {0})\n" + MARK
LIMITS = ("import resource\nresource.setrlimit(resource.RLIMIT_NOFILE, (321, 654))\n"
          "resource.setrlimit(resource.RLIMIT_CORE, (0, 4096))\n") + MARK
BURNER = """
import threading
def burn():
    import threading
    open(f'/proc/self/task/{threading.get_native_id()}/comm', 'w').write('vt-burner')
    while True:
        pass
threading.Thread(target=burn, daemon=True).start()
""" + MARK
LISTENER = """
import socket
srv = socket.socket()
srv.bind(('127.0.0.1', 0))
srv.listen(16)
clients = [socket.create_connection(srv.getsockname()) for _ in range(5)]
accepted = [srv.accept()[0] for _ in range(5)]
""" + MARK


def files_body(d):
    return f"files = [open({str(d)!r} + f'/f{{i}}', 'w') for i in range(20)]\n" + MARK


def labels_of(v, name, pid):
    return [(dict(l), x) for (n, l), x in v.items() if n == name and dict(l).get("process_pid") == str(pid)]


def one(v, name, pid, **want):
    hits = [x for l, x in labels_of(v, name, pid) if all(l.get(k) == w for k, w in want.items())]
    assert len(hits) == 1, (name, pid, want, hits)
    return hits[0]


def psutil_view(pid):
    """Everything vitals exports for `pid`, as psutil reports it."""
    p = psutil.Process(pid)
    # psutil's memory_percent() divides by a total cached at its first virtual_memory() call,
    # which an earlier test may have made with PROCFS_PATH on a fixture tree: read it anew.
    psutil.virtual_memory()
    with p.oneshot():
        t = p.cpu_times()
        m = p.memory_info()
        io = p.io_counters()
        c = p.num_ctx_switches()
        ion = p.ionice()
        out = {
            "ppid": p.ppid(), "name": p.name(), "exe": p.exe(), "username": p.username(),
            "uids": tuple(p.uids()), "gids": tuple(p.gids()), "terminal": p.terminal() or "",
            "status": p.status(), "create_time": p.create_time(),
            "cpu": (t.user, t.system, t.children_user, t.children_system, t.iowait),
            "affinity": len(p.cpu_affinity()),
            "memory": (m.rss, m.vms, m.shared, m.text, m.lib, m.data, m.dirty),
            "memory_percent": p.memory_percent(),
            "io": (io.read_count, io.write_count, io.read_bytes, io.write_bytes, io.read_chars, io.write_chars),
            "ctx": (c.voluntary, c.involuntary), "fds": p.num_fds(), "threads": p.num_threads(),
            "open_files": len(p.open_files()), "nice": p.nice(), "ionice": (int(ion.ioclass), ion.value),
            "rlimits": {r: p.rlimit(getattr(psutil, "RLIMIT_" + r.upper())) for r in RESOURCES},
            "environ": p.environ().get("VT_DETAIL_TOKEN"),
        }
    return out


RESOURCES = ["cpu", "fsize", "data", "stack", "core", "rss", "nproc", "nofile", "memlock", "as", "locks",
             "sigpending", "msgqueue", "nice", "rtprio", "rttime"]
IOPRIO = ["none", "rt", "be", "idle"]


def exported_view(v, pid, want_exe_deleted=False):
    (info, _), = labels_of(v, "process_detail_info", pid)
    get = lambda name, **l: one(v, name, pid, **l)
    io_name = {"read_count": ("process_detail_io_operations_total", "read"),
               "write_count": ("process_detail_io_operations_total", "write"),
               "read_bytes": ("process_detail_disk_io_bytes_total", "read"),
               "write_bytes": ("process_detail_disk_io_bytes_total", "write"),
               "read_chars": ("process_detail_io_bytes_total", "read"),
               "write_chars": ("process_detail_io_bytes_total", "write")}
    (ionice_labels, ionice_value), = labels_of(v, "process_detail_io_priority", pid)
    env = [l for l, _ in labels_of(v, "process_detail_environment_variable_info", pid)]
    return {
        "ppid": int(info["process_parent_pid"]), "name": info["process_executable_name"],
        "exe": info["process_executable_path"], "username": info["process_owner"],
        "uids": tuple(int(info[k]) for k in ("process_real_user_id", "process_user_id", "process_saved_user_id")),
        "gids": tuple(int(info[k]) for k in ("process_real_group_id", "process_group_id", "process_saved_group_id")),
        "terminal": info["process_terminal"], "status": info["process_state"],
        "create_time": get("process_detail_start_time_seconds"),
        "cpu": tuple(get("process_detail_cpu_time_seconds_total", cpu_mode=m)
                     for m in ("user", "system", "children_user", "children_system", "iowait")),
        "affinity": get("process_detail_cpu_affinity"),
        "memory": tuple(get(f"process_detail_memory_{k}_bytes")
                        for k in ("usage", "virtual", "shared", "text", "lib", "data", "dirty")),
        "memory_percent": get("process_detail_memory_utilization_ratio") * 100,
        "io": tuple(get(n, disk_io_direction=d) for n, d in io_name.values()),
        "ctx": tuple(get("process_detail_context_switches_total", process_context_switch_type=k)
                     for k in ("voluntary", "involuntary")),
        "fds": get("process_detail_unix_file_descriptor_count"),
        "threads": get("process_detail_thread_count"),
        "open_files": get("process_detail_open_file_count"),
        "nice": get("process_detail_nice"),
        "ionice": (IOPRIO.index(ionice_labels["process_io_priority_class"]), ionice_value),
        "rlimits": {r: (get("process_detail_rlimit", process_rlimit_resource=r, process_rlimit_kind="soft"),
                        get("process_detail_rlimit", process_rlimit_resource=r, process_rlimit_kind="hard"))
                    for r in RESOURCES},
        "environ": env[0]["process_environment_variable_value"] if env else None,
    }


@pytest.fixture
def helpers(start_vitals, tmp_path):
    d = start_vitals(config(RULES))
    wait_ticks(d, 1)
    env = dict(os.environ, VT_DETAIL_TOKEN=TOKEN)
    link = tmp_path / LONG
    link.symlink_to(sys.executable)
    (tmp_path / "files").mkdir()
    procs = {
        "long": spawn(LONG[:15], MARK, python=str(link), env=env),
        "nice": spawn("vt-nice", NICE, env=env),
        "affinity": spawn("vt-affinity", AFFINITY, env=env),
        "limits": spawn("vt-limits", LIMITS, env=env),
        "files": spawn("vt-files", files_body(tmp_path / "files"), env=env),
        "burner": spawn("vt-burn", BURNER, env=env),
        "listener": spawn("vt-listener", LISTENER, env=env),
    }
    deleted = tmp_path / "vt-detail-del"
    shutil.copy(shutil.which("sleep"), deleted)
    procs["deleted"] = subprocess.Popen([str(deleted), "3600"], env=env)
    # Unlink only once the exec is done, so that the exe link names the copy.
    end = time.time() + 10
    while psutil.Process(procs["deleted"].pid).name() != "vt-detail-del":
        assert time.time() < end, "the copy of sleep did not start"
        time.sleep(0.01)
    deleted.unlink()
    # prlimit from outside, as the helper: psutil's rlimit setter is prlimit(2).
    psutil.Process(procs["limits"].pid).rlimit(psutil.RLIMIT_STACK, (1 << 22, 1 << 23))
    yield d, {k: p.pid for k, p in procs.items()}
    kill(*procs.values())


QUIET = ["long", "nice", "affinity", "limits", "files", "listener", "deleted"]


def test_each_value_equals_psutil(helpers):
    d, pids = helpers
    for _ in range(5):
        before = {k: psutil_view(pid) for k, pid in pids.items()}
        v = wait_ticks(d, 2)
        after = {k: psutil_view(pid) for k, pid in pids.items()}
        if all(before[k] == after[k] for k in QUIET):
            break
    for k in QUIET:
        assert before[k] == after[k], f"{k} moved while measured"
        want = after[k]
        if k == "deleted":
            want = dict(want, exe=want["exe"] + " (deleted)")
        got = exported_view(v, pids[k])
        for key, w in want.items():
            if key == "create_time":
                assert got[key] == pytest.approx(w, abs=0.01), (k, key)
            elif key == "memory_percent":
                assert got[key] == pytest.approx(w, rel=1e-9), (k, key)
            elif key == "cpu":
                assert got[key] == pytest.approx(w, abs=1e-9), (k, key)
            else:
                assert got[key] == w, (k, key, got[key], w)
    # The burner moves: its counters lie between the readings around the tick.
    got, lo, hi = exported_view(v, pids["burner"]), before["burner"], after["burner"]
    for i in range(2):
        assert lo["cpu"][i] - 1e-9 <= got["cpu"][i] <= hi["cpu"][i] + 1e-9
    for key in ("ppid", "name", "exe", "uids", "gids", "threads", "rlimits", "nice", "environ"):
        assert got[key] == hi[key], key

    # What each helper was made for, so that a wrong reason also fails.
    view = {k: exported_view(v, pid) for k, pid in pids.items()}
    assert view["long"]["name"] == LONG
    assert view["nice"]["nice"] == 10 and view["nice"]["ionice"] == (3, 0)
    assert view["affinity"]["affinity"] == 1
    assert one(v, "process_detail_cpu_number", pids["affinity"]) == 0
    assert view["limits"]["rlimits"]["nofile"] == (321, 654)
    assert view["limits"]["rlimits"]["core"] == (0, 4096)
    assert view["limits"]["rlimits"]["stack"] == (1 << 22, 1 << 23)
    assert view["files"]["open_files"] == 20
    assert view["listener"]["fds"] >= 3 + 1 + 10
    assert view["deleted"]["exe"].endswith("/vt-detail-del (deleted)")
    assert all(x["environ"] == TOKEN for x in view.values())
    # Thread CPU: the burner thread is the busiest of its process, with its name.
    threads = labels_of(v, "process_detail_thread_cpu_time_seconds_total", pids["burner"])
    names = {l["thread_name"] for l, _ in threads}
    assert "vt-burner" in names and len({l["thread_id"] for l, _ in threads}) == 2
    burner_tid = next(l["thread_id"] for l, _ in threads if l["thread_name"] == "vt-burner")
    tid_times = {t.id: t for t in psutil.Process(pids["burner"]).threads()}
    user = next(x for l, x in threads if l["thread_id"] == burner_tid and l["cpu_mode"] == "user")
    assert 0 < user <= tid_times[int(burner_tid)].user_time + 1e-9
    # The group's series still carry everything, and nothing was folded.
    assert v[("vitals_process_detail_folded", frozenset())] == 0
    members = {dict(l)["process_pid"] for (n, l), _ in v.items()
               if n == "process_detail_info" and dict(l)["process_group"] == GROUP}
    assert {str(p) for p in pids.values()} <= members


def test_cardinality_bound(start_vitals):
    """200 processes in a per_process group with max_processes = 50: 50 exported, the other
    150 counted, and the group's totals are those of all 200."""
    many = """
import os, signal
for i in range(200):
    if os.fork() == 0:
        signal.pause()
        os._exit(0)
""" + MARK
    d = start_vitals(config("top_n = 0\nmax_processes = 50\n" + RULES))
    wait_ticks(d, 1)
    parent = spawn("vt-many", many)
    children = psutil.Process(parent.pid).children()
    try:
        assert len(children) == 200
        v = wait_ticks(d, 2)
        info = [dict(l) for (n, l), _ in v.items() if n == "process_detail_info"]
        assert len(info) == 50 and all(l["process_group"] == GROUP for l in info)
        assert v[("vitals_process_detail_folded", frozenset())] == 151
        count = sum(x for (n, l), x in v.items()
                    if n == "process_count" and dict(l)["process_group"] == GROUP)
        assert count == 201
        rss = v[("process_memory_usage_bytes", frozenset({("process_group", GROUP)}))]
        assert rss == sum(p.memory_info().rss for p in [psutil.Process(parent.pid), *children])
    finally:
        kill(parent)
        for c in children:
            c.kill()
        psutil.wait_procs(children, timeout=10)


THREADS = """
import threading
cv, never = threading.Condition(), threading.Event()
started = 0
def idle():
    global started
    with cv:
        started += 1
        cv.notify_all()
    never.wait()
for _ in range(7):
    threading.Thread(target=idle, daemon=True).start()
with cv:
    assert cv.wait_for(lambda: started == 7, timeout=10), 'the threads did not start'
# vt-threadfold
""" + "print('ready', flush=True)\n"

THREAD_RULES = """top_n = 0
[[collectors.processes.group]]
name = "vt-threadfold"
cmdline = ['vt-threadfold']
per_process = true
"""


@pytest.mark.parametrize("top_threads", [3, 0])
def test_top_threads_folds_the_rest(start_vitals, top_threads):
    """One per-process process with 8 threads (top_n = 0, so it is the only one): with
    top_threads = 3, 3 threads have series and the other 5 are counted in
    vitals_process_detail_threads_folded; with top_threads = 0 neither is exported."""
    d = start_vitals(config(f"top_threads = {top_threads}\n" + THREAD_RULES))
    wait_ticks(d, 1)
    p = spawn("vt-threadfold", THREADS)
    try:
        tids = {t.id for t in psutil.Process(p.pid).threads()}
        assert len(tids) == 8
        v = wait_ticks(d, 2)
        info = [dict(l)["process_pid"] for (n, l), _ in v.items() if n == "process_detail_info"]
        assert info == [str(p.pid)], "the rule pins this process alone"
        assert one(v, "process_detail_thread_count", p.pid) == 8
        series = {dict(l)["thread_id"] for (n, l), _ in v.items()
                  if n == "process_detail_thread_cpu_time_seconds_total"}
        folded = v.get(("vitals_process_detail_threads_folded", frozenset()))
        if top_threads:
            assert len(series) == 3 and {int(t) for t in series} <= tids, series
            assert folded == 8 - 3
        else:
            assert series == set() and folded is None
        assert v[("vitals_process_detail_folded", frozenset())] == 0
    finally:
        kill(p)
