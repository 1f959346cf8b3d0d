"""deploy/prometheus checked by promtool: the scrape example, every rules file, and the rule
unit tests that make each alert fire and stay silent and check the compatibility rules' output.
A copy of the rules with one threshold moved must fail its unit tests."""
import shutil
import subprocess
import sys

import pytest

from conftest import REPO

PROM = REPO / "deploy" / "prometheus"
pytestmark = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is installed by scripts/test.sh")


def promtool(*args):
    return subprocess.run(["promtool", *map(str, args)], capture_output=True, text=True)


def test_scrape_config_and_its_rule_files_check():
    run = promtool("check", "config", PROM / "prometheus.yml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 rule files found" in run.stdout


@pytest.mark.parametrize("path", sorted(PROM.glob("*.rules.yml")), ids=lambda p: p.name)
def test_rules_check(path):
    run = promtool("check", "rules", path)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("path", sorted((PROM / "tests").glob("*.test.yml")), ids=lambda p: p.name)
def test_rule_unit_tests_pass(path):
    run = promtool("test", "rules", path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout


def test_every_alert_has_a_unit_test():
    import yaml
    rules = yaml.safe_load((PROM / "vitals.rules.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    tests = yaml.safe_load((PROM / "tests" / "vitals.rules.test.yml").read_text())
    tested = {a["alertname"] for t in tests["tests"] for a in t.get("alert_rule_test", []) if a.get("exp_alerts")}
    assert alerts == tested, alerts ^ tested
    for r in (r for g in rules["groups"] for r in g["rules"] if "alert" in r):
        assert r["labels"]["severity"] in {"info", "warning", "critical"}
        assert r["annotations"]["summary"] and r["annotations"]["description"]


def test_unit_tests_catch_a_moved_threshold(tmp_path):
    (tmp_path / "tests").mkdir()
    shutil.copy(PROM / "tests" / "vitals.rules.test.yml", tmp_path / "tests")
    rules = (PROM / "vitals.rules.yml").read_text()
    assert "system_cpu_logical_count > 2" in rules
    (tmp_path / "vitals.rules.yml").write_text(rules.replace("system_cpu_logical_count > 2", "system_cpu_logical_count > 3"))
    run = promtool("test", "rules", tmp_path / "tests" / "vitals.rules.test.yml")
    assert run.returncode != 0 and "NodeSystemSaturation" in run.stdout + run.stderr


def test_compat_rules_equal_the_generator_output():
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "gen_compat_rules.py"), "--check"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr + "\nregenerate with scripts/gen_compat_rules.py"
