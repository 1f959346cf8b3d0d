"""docs/psutil.md stays true: every metric or label it names in backticks is in the catalog
(`vitals list-metrics --format json`), and every public psutil function and Process method of
the installed psutil (7.2.2) has its row."""
import inspect
import json
import os
import pathlib
import re
import subprocess

import psutil

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "psutil.md").read_text()
NAME = re.compile(r"`((?:system|process|hw|vitals)_[a-z0-9_]+)`")


def catalog():
    binary = os.environ.get("VITALS_BIN", str(ROOT / "target" / "release" / "vitals"))
    out = subprocess.run([binary, "list-metrics", "--format", "json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def test_every_name_cited_exists():
    metrics = catalog()
    names = {m["prometheus_name"] for m in metrics}
    labels = {l for m in metrics for l in m["prometheus_labels"]}
    cited = set(NAME.findall(DOC))
    assert len(cited) > 100, len(cited)
    missing = sorted(c for c in cited if c not in names and c not in labels)
    assert not missing, missing
    # Every per-process family is placed somewhere.
    detail = {n for n in names if n.startswith("process_detail_") or n.startswith("process_top_")}
    assert detail <= cited, sorted(detail - cited)


def test_every_psutil_call_has_a_row():
    assert psutil.__version__ == "7.2.2"
    functions = [n for n in psutil.__all__
                 if callable(getattr(psutil, n)) and not inspect.isclass(getattr(psutil, n))]
    methods = [n for n in dir(psutil.Process) if not n.startswith("_") and n != "pid"]
    missing = [n for n in functions + methods if f"`{n}(" not in DOC and f" `{n}()`" not in DOC
               and f"{n}()" not in DOC]
    assert not missing, missing
    assert "`pid`" in DOC
