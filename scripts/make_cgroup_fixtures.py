#!/usr/bin/env python3
"""Writes the cgroup v2 fixture trees tests/fixtures/cgroups-{systemd,k8s-systemd,
k8s-cgroupfs,docker,podman}: small host trees (sys/fs/cgroup, proc/pressure, the kubelet's
var/log/{pods,containers}, Docker's and Podman's state files) laid out as each kind of host
has them, with every file in the kernel's format (Documentation/admin-guide/cgroup-v2.rst).

The numbers are made up but consistent (user + system = usage, file_mapped <= file, ...), and
derived from the cgroup's path, so a rerun writes the same trees. tests/golden.rs pins the
exposition of each tree; tests/cgroups.rs checks the working set and the labels on them.

    scripts/make_cgroup_fixtures.py
"""
import hashlib
import json
import pathlib
import shutil

ROOT = pathlib.Path(__file__).resolve().parents[1] / "tests" / "fixtures"


def n(path, what, lo, hi):
    """A number in [lo, hi) fixed by the path and what it is for."""
    h = int.from_bytes(hashlib.sha256(f"{path}:{what}".encode()).digest()[:8], "big")
    return lo + h % (hi - lo)


def write(p, text):
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


def psi(path, what):
    some = n(path, what + "some", 0, 5_000_000)
    full = some // 2
    return (f"some avg10=0.00 avg60=0.00 avg300=0.00 total={some}\n"
            f"full avg10=0.00 avg60=0.00 avg300=0.00 total={full}\n")


def cgroup(top, rel, procs=1, controllers=("cpu", "io", "memory", "pids"), cpu_max=None,
           memory_max=None, oom_kills=0, inactive_over=False):
    """One cgroup directory with the files its controllers give."""
    d = top / rel if rel else top
    d.mkdir(parents=True, exist_ok=True)
    user = n(rel, "user", 1_000_000, 900_000_000)
    system = n(rel, "system", 100_000, 200_000_000)
    periods = n(rel, "periods", 100, 100_000) if cpu_max else 0
    throttled = periods // 7 if cpu_max else 0
    write(d / "cpu.stat",
          f"usage_usec {user + system}\nuser_usec {user}\nsystem_usec {system}\n"
          f"core_sched.force_idle_usec 0\nnr_periods {periods}\nnr_throttled {throttled}\n"
          f"throttled_usec {throttled * 13_000}\nnr_bursts 0\nburst_usec 0\n")
    write(d / "cpu.pressure", psi(rel, "cpu"))
    write(d / "memory.pressure", psi(rel, "memory"))
    write(d / "io.pressure", psi(rel, "io"))
    write(d / "cgroup.procs", "".join(f"{1000 + n(rel, f'pid{i}', 0, 30000)}\n" for i in range(procs)))
    write(d / "cgroup.controllers", " ".join(controllers) + "\n")
    if "cpu" in controllers:
        write(d / "cpu.max", f"{cpu_max or 'max'} 100000\n")
        write(d / "cpu.weight", "100\n")
    if "memory" in controllers:
        anon = n(rel, "anon", 1 << 20, 512 << 20)
        file = n(rel, "file", 1 << 20, 256 << 20)
        kernel = n(rel, "kernel", 64 << 10, 16 << 20)
        sock = n(rel, "sock", 0, 1 << 20)
        current = anon + file + kernel + sock
        inactive_file = current + 4096 if inactive_over else file * 2 // 3
        slab = kernel // 2
        pgmajfault = n(rel, "pgmajfault", 0, 5000)
        stat = {
            "anon": anon, "file": file, "kernel": kernel, "kernel_stack": kernel // 8,
            "pagetables": kernel // 8, "sec_pagetables": 0, "percpu": kernel // 16, "sock": sock,
            "vmalloc": 0, "shmem": file // 10, "zswap": 0, "zswapped": 0,
            "file_mapped": file // 3, "file_dirty": file // 50, "file_writeback": 0,
            "swapcached": 0, "anon_thp": 0, "file_thp": 0, "shmem_thp": 0,
            "inactive_anon": anon // 2, "active_anon": anon - anon // 2,
            "inactive_file": inactive_file, "active_file": max(file - inactive_file, 0),
            "unevictable": 0, "slab_reclaimable": slab // 2, "slab_unreclaimable": slab - slab // 2,
            "slab": slab, "workingset_refault_anon": n(rel, "wra", 0, 100),
            "workingset_refault_file": n(rel, "wrf", 0, 10000), "workingset_activate_anon": 0,
            "workingset_activate_file": 0, "workingset_restore_anon": 0,
            "workingset_restore_file": 0, "workingset_nodereclaim": 0,
            "pgscan": 0, "pgsteal": 0, "pgfault": pgmajfault + n(rel, "pgfault", 1000, 9_000_000),
            "pgmajfault": pgmajfault, "pgrefill": 0, "pgactivate": 0, "pgdeactivate": 0,
            "pglazyfree": 0, "pglazyfreed": 0, "thp_fault_alloc": 0, "thp_collapse_alloc": 0,
        }
        write(d / "memory.stat", "".join(f"{k} {v}\n" for k, v in stat.items()))
        write(d / "memory.current", f"{current}\n")
        write(d / "memory.peak", f"{current + n(rel, 'peak', 0, 64 << 20)}\n")
        write(d / "memory.max", f"{memory_max or 'max'}\n")
        write(d / "memory.high", "max\n")
        write(d / "memory.low", "0\n")
        write(d / "memory.events",
              f"low 0\nhigh 0\nmax {oom_kills * 40}\noom {oom_kills}\noom_kill {oom_kills}\n"
              "oom_group_kill 0\n")
        write(d / "memory.swap.current", f"{n(rel, 'swap', 0, 8 << 20) // 4096 * 4096}\n")
        write(d / "memory.swap.max", "max\n")
    if "io" in controllers:
        write(d / "io.stat",
              f"8:0 rbytes={n(rel, 'rb', 0, 1 << 30)} wbytes={n(rel, 'wb', 0, 1 << 30)} "
              f"rios={n(rel, 'ri', 0, 100000)} wios={n(rel, 'wi', 0, 100000)} dbytes=0 dios=0\n"
              f"259:0 rbytes={n(rel, 'rb2', 0, 1 << 20)} wbytes=0 rios={n(rel, 'ri2', 0, 100)} "
              "wios=0 dbytes=0 dios=0\n")
    if "pids" in controllers:
        write(d / "pids.current", f"{procs * 3}\n")
        write(d / "pids.max", "max\n" if not cpu_max else "4096\n")


def host(name):
    """A fresh tree with the v2 hierarchy at sys/fs/cgroup, host PSI and two disks."""
    base = ROOT / name
    shutil.rmtree(base, ignore_errors=True)
    top = base / "sys/fs/cgroup"
    top.mkdir(parents=True)
    write(top / "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n")
    write(top / "cgroup.subtree_control", "cpu io memory pids\n")
    write(top / "cpu.stat", "usage_usec 1\nuser_usec 1\nsystem_usec 0\n")
    for dev, devname in [("8:0", "sda"), ("259:0", "nvme0n1")]:
        write(base / f"sys/dev/block/{dev}/uevent",
              f"MAJOR={dev.split(':')[0]}\nMINOR={dev.split(':')[1]}\nDEVNAME={devname}\nDEVTYPE=disk\n")
    for res, lines in [("cpu", ("some", "full")), ("memory", ("some", "full")),
                       ("io", ("some", "full")), ("irq", ("full",))]:
        write(base / f"proc/pressure/{res}", "".join(
            f"{k} avg10=0.00 avg60=0.00 avg300=0.00 total={n(res, k, 0, 90_000_000)}\n"
            for k in lines))
    return base, top


def cid(seed):
    return hashlib.sha256(seed.encode()).hexdigest()


def systemd():
    base, top = host("cgroups-systemd")
    for slice_ in ["system.slice", "user.slice", "user.slice/user-1000.slice",
                   "user.slice/user-1000.slice/user@1000.service",
                   "user.slice/user-1000.slice/user@1000.service/app.slice",
                   "system.slice/system-getty.slice"]:
        cgroup(top, slice_, procs=0)
    cgroup(top, "init.scope")
    cgroup(top, "system.slice/nginx.service", procs=5)
    cgroup(top, "system.slice/postgresql.service", procs=12, cpu_max=200000,
           memory_max=2 << 30, oom_kills=2)
    cgroup(top, "system.slice/sshd.service", controllers=("cpu", "memory", "pids"))
    cgroup(top, "system.slice/system-getty.slice/getty@tty1.service", controllers=())
    cgroup(top, "user.slice/user-1000.slice/session-3.scope", procs=3)
    cgroup(top, "user.slice/user-1000.slice/user@1000.service/init.scope", procs=2)
    cgroup(top, "user.slice/user-1000.slice/user@1000.service/app.slice/syncthing.service",
           inactive_over=True)


def kubernetes(name, driver, runtime):
    base, top = host(name)
    cgroup(top, "system.slice", procs=0)
    cgroup(top, "system.slice/kubelet.service", procs=1)
    cgroup(top, f"system.slice/{'crio' if runtime == 'crio' else 'containerd'}.service", procs=1)
    pods = [
        ("kube-system", "coredns-5d78c9869d-x7k2p", "6b4e6f0a-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
         "burstable", ["coredns"]),
        ("shop", "web-7f9c8d-abcde", "0f1e2d3c-4b5a-6978-8a9b-aabbccddeeff", "guaranteed",
         ["nginx", "exporter"]),
        ("batch", "report-29061", "11111111-2222-3333-4444-555555555555", "besteffort",
         ["report"]),
    ]
    for ns, pod, uid, qos, containers in pods:
        if driver == "systemd":
            qos_dir = "kubepods.slice" if qos == "guaranteed" else \
                f"kubepods.slice/kubepods-{qos}.slice"
            prefix = "kubepods" if qos == "guaranteed" else f"kubepods-{qos}"
            pod_dir = f"{qos_dir}/{prefix}-pod{uid.replace('-', '_')}.slice"
        else:
            qos_dir = "kubepods" if qos == "guaranteed" else f"kubepods/{qos}"
            pod_dir = f"{qos_dir}/pod{uid}"
        for d in ["kubepods.slice" if driver == "systemd" else "kubepods", qos_dir, pod_dir]:
            cgroup(top, d, procs=0)
        limit = {"guaranteed": 100000, "burstable": None, "besteffort": None}[qos]
        for c in containers + ["POD"]:
            id_ = cid(f"{pod}/{c}")
            if driver == "systemd":
                leaf = f"crio-{id_}.scope" if runtime == "crio" else f"cri-containerd-{id_}.scope"
            else:
                leaf = f"crio-{id_}" if runtime == "crio" else id_
            cgroup(top, f"{pod_dir}/{leaf}", procs=1, cpu_max=limit,
                   memory_max=(256 << 20) if limit else None, oom_kills=1 if c == "report" else 0)
            if c != "POD":
                write(base / f"var/log/pods/{ns}_{pod}_{uid}/{c}/0.log", "")
                write(base / f"var/log/containers/{pod}_{ns}_{c}-{id_}.log", "")


def docker():
    base, top = host("cgroups-docker")
    cgroup(top, "system.slice", procs=0)
    cgroup(top, "system.slice/docker.service", procs=1)
    cgroup(top, "system.slice/containerd.service", procs=1)
    for name in ["redis", "grafana"]:
        id_ = cid(f"docker/{name}")
        cgroup(top, f"system.slice/docker-{id_}.scope", procs=2,
               memory_max=(512 << 20) if name == "redis" else None)
        write(base / f"var/lib/docker/containers/{id_}/config.v2.json",
              json.dumps({"ID": id_, "Name": f"/{name}", "State": {"Running": True},
                          "Config": {"Image": name}}) + "\n")


def podman():
    base, top = host("cgroups-podman")
    for d in ["machine.slice", "user.slice", "user.slice/user-1000.slice",
              "user.slice/user-1000.slice/user@1000.service",
              "user.slice/user-1000.slice/user@1000.service/user.slice"]:
        cgroup(top, d, procs=0)
    containers = []
    for name in ["db", "cache"]:
        id_ = cid(f"podman/{name}")
        cgroup(top, f"machine.slice/libpod-{id_}.scope", procs=2)
        cgroup(top, f"machine.slice/libpod-conmon-{id_}.scope", procs=1,
               controllers=("cpu", "memory", "pids"))
        containers.append({"id": id_, "names": [name], "image": "0" * 64, "layer": "1" * 64,
                           "metadata": "{}", "created": "2026-12-01T00:00:00Z", "flags": {}})
    rootless = cid("podman/rootless")
    cgroup(top, f"user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{rootless}.scope")
    write(base / "var/lib/containers/storage/overlay-containers/containers.json",
          json.dumps(containers) + "\n")


if __name__ == "__main__":
    systemd()
    kubernetes("cgroups-k8s-systemd", "systemd", "containerd")
    kubernetes("cgroups-k8s-cgroupfs", "cgroupfs", "crio")
    docker()
    podman()
