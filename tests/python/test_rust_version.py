"""The Rust version the README names is the one Cargo.toml declares, and no dependency
needs a newer one. (Clippy's incompatible_msrv lint, run with -D warnings, checks that no
std API newer than it is used; let-chains set the floor at 1.88.)"""
import json
import pathlib
import re
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[2]


def version(text):
    """(major, minor, patch): "1.88" and "1.88.0" are the same version."""
    parts = [int(x) for x in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def declared():
    manifest = (REPO / "Cargo.toml").read_text()
    return re.search(r'^rust-version = "([0-9.]+)"', manifest, re.M).group(1)


def test_no_dependency_needs_a_newer_rust():
    ours = version(declared())
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        cwd=REPO, capture_output=True, text=True, check=True).stdout)
    newer = [(p["name"], p["rust_version"]) for p in meta["packages"]
             if p.get("rust_version") and version(p["rust_version"]) > ours]
    assert not newer, f"dependencies need a newer Rust than {declared()}: {newer}"


def test_the_readme_names_the_declared_version():
    readme = (REPO / "README.md").read_text()
    assert f"Rust {declared()}" in readme, f"README should say 'Rust {declared()}'"
