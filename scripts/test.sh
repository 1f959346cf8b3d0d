#!/usr/bin/env bash
# Runs every test of vitals: formatting and lints, Rust unit/golden/integration tests, and
# the Python tests against the real binary (promtool, a real Prometheus, psutil as oracle).
# Installs what they need on a fresh Debian machine: Prometheus and promtool from apt,
# psutil, prometheus-client, pytest and cryptography (test certificates) into .venv; fuse3 and python3-fusepy for the hung-mount
# test; for the deploy artefacts (tests/python/test_deploy_*.py, test_dashboards*.py): buildah
# (the image, built offline FROM scratch), file and binutils (static check, strip), systemd
# (systemd-analyze) and procps (/bin/kill, which the unit names), jsonnet (the node-mixin),
# kubernetes-validate and PyYAML from PyPI. kubectl (for kustomize) is not in Debian in a
# usable version: its tests skip where it is missing.
# `cargo test` replays every fuzz target's seeds and past crashes (tests/fuzz_corpus.rs); long
# fuzzing runs are scripts/fuzz.sh (nightly).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
command -v promtool >/dev/null || missing+=(prometheus)   # Debian's prometheus ships promtool
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
command -v unshare >/dev/null || missing+=(util-linux)           # psutil on fixture trees, in a mount namespace
# The hung-mount test's FUSE server runs on Debian's python3 with python3-fusepy.
/usr/bin/python3 -c 'import fusepy' 2>/dev/null || missing+=(python3-fusepy)
command -v fusermount3 >/dev/null || missing+=(fuse3)
command -v buildah >/dev/null || missing+=(buildah)
command -v jsonnet >/dev/null || missing+=(jsonnet)
command -v systemd-analyze >/dev/null || missing+=(systemd)
command -v file >/dev/null || missing+=(file)
command -v strip >/dev/null || missing+=(binutils)
[ -x /bin/kill ] || missing+=(procps)
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]}"
    apt_install "${missing[@]}"
fi
[ -x .venv/bin/pip ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r tests/python/requirements.txt

echo "== [${SECONDS}s] cargo fmt --check"
cargo fmt --all -- --check
echo "== [${SECONDS}s] import cycles (scripts/check_cycles.py)"
python3 scripts/check_cycles.py src
echo "== [${SECONDS}s] cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
echo "== [${SECONDS}s] cargo clippy --no-default-features (the daemon without the OTLP push)"
cargo clippy --no-default-features --quiet -- -D warnings
echo "== [${SECONDS}s] cargo test"
cargo test --quiet
echo "== [${SECONDS}s] release build: the static binary of scripts/build_image.sh"
# One release build for the Python tests and the image: the same command as
# scripts/build_image.sh, whose own cargo build then has nothing to do (test_deploy_image.py).
# A second build for target/release/vitals would compile the whole dependency tree again
# (other RUSTFLAGS, other --target): 256 s of the Python tests, measured on the loaded 2-core
# machine (README, "Test it").
RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked --quiet --target x86_64-unknown-linux-gnu
echo "== [${SECONDS}s] python tests (real binary, promtool, Prometheus, psutil, TLS, load, slowloris)"
VITALS_BIN="$PWD/target/x86_64-unknown-linux-gnu/release/vitals" \
    .venv/bin/pytest -q -p no:cacheprovider --durations=15 tests/python
echo "== [${SECONDS}s] done"
