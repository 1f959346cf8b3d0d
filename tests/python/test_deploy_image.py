"""The container image: scripts/build_image.sh builds the Dockerfile's final stage with buildah
(offline, FROM scratch, --isolation chroot) from a static binary built here, checked with
file and ldd; buildah run then starts `vitals --version` and `vitals once` on a fixture tree
mounted at /host/proc, as the image's user (65534, who cannot read a root-only file). The
image's config says what the Dockerfile promises."""
import json
import re
import shutil
import subprocess

import pytest

from conftest import REPO

TAG = "localhost/vitals:test-deploy"
FIXTURE = REPO / "tests" / "fixtures" / "modern"


def runnable():
    if shutil.which("buildah") is None:
        return "buildah is not installed (scripts/test.sh installs it)"
    probe = subprocess.run(["buildah", "info"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"buildah cannot run here: {probe.stderr.strip()}"
    return None


pytestmark = pytest.mark.skipif(runnable() is not None, reason=str(runnable()))


@pytest.fixture(scope="module")
def image():
    run = subprocess.run([str(REPO / "scripts" / "build_image.sh"), TAG], capture_output=True, text=True,
                         timeout=1200)
    assert run.returncode == 0, run.stdout + run.stderr
    name, size = run.stdout.split("\n")[:2]
    assert name == TAG
    ctr = subprocess.run(["buildah", "from", "--pull-never", TAG], capture_output=True, text=True, check=True).stdout.strip()
    yield ctr, size
    subprocess.run(["buildah", "rm", ctr], capture_output=True)
    subprocess.run(["buildah", "rmi", "-f", TAG], capture_output=True)


def buildah_run(ctr, *args, volumes=()):
    cmd = ["buildah", "run", "--isolation", "chroot"]
    for v in volumes:
        cmd += ["-v", v]
    return subprocess.run(cmd + [ctr, "--", *args], capture_output=True, text=True, timeout=60)


def test_static_binary(image):
    bin_ = REPO / "target" / "x86_64-unknown-linux-gnu" / "release" / "vitals"  # built by build_image.sh
    assert re.search(r"static(-pie)? linked", subprocess.run(["file", str(bin_)], capture_output=True, text=True).stdout)
    ldd = subprocess.run(["ldd", str(bin_)], capture_output=True, text=True)
    assert "=>" not in ldd.stdout


def test_version_runs_in_the_image(image):
    ctr, _ = image
    run = buildah_run(ctr, "/usr/bin/vitals", "--version")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("vitals ")


def test_once_reads_a_mounted_host_tree(image):
    ctr, _ = image
    run = buildah_run(ctr, "/usr/bin/vitals", "once", "--procfs", "/host/proc",
                      volumes=[f"{FIXTURE / 'proc'}:/host/proc:ro"])
    assert run.returncode == 0, run.stderr
    # The fixture's /proc/stat: 4 CPUs, user time of cpu0 = 298021 ticks / 100.
    assert 'system_cpu_time_seconds_total{cpu_mode="user",cpu_logical_number="0"} 2980.21' in run.stdout
    assert "system_memory_limit_bytes" in run.stdout


def test_runs_as_nobody(image, tmp_path):
    ctr, _ = image
    proc = tmp_path / "proc"
    shutil.copytree(FIXTURE / "proc", proc, symlinks=True)
    (proc / "stat").chmod(0o600)  # owned by root: nobody cannot read it
    run = buildah_run(ctr, "/usr/bin/vitals", "once", "--procfs", "/host/proc", volumes=[f"{proc}:/host/proc:ro"])
    assert "reading /host/proc/stat: Permission denied" in run.stderr


def test_image_config(image):
    ctr, size = image
    cfg = json.loads(subprocess.run(["buildah", "inspect", "--type", "image", TAG], capture_output=True,
                                    text=True, check=True).stdout)["OCIv1"]["config"]
    assert cfg["User"] == "65534:65534"
    assert cfg["Entrypoint"] == ["/usr/bin/vitals"]
    assert "9977/tcp" in cfg["ExposedPorts"]
    labels = cfg["Labels"]
    assert labels["org.opencontainers.image.title"] == "vitals"
    assert labels["org.opencontainers.image.version"]
    assert re.fullmatch(r"[0-9a-f]{12}|unknown", labels["org.opencontainers.image.revision"])
    # One layer, the binary: the documented size is this image's.
    mb = float(size.split()[0])
    assert size.endswith("MB") and mb < 15
    documented = re.search(r"image is about\s+(\d+(?:\.\d+)?) MB", (REPO / "README.md").read_text())
    assert documented and abs(float(documented.group(1)) - mb) < 1.5, f"README.md should say about {mb} MB"
