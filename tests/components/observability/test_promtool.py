"""promtool checks every rule file, runs the alert unit tests and parses every dashboard query."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from llmops.components.observability import manifests

from tests.components.observability.promql import dashboard_expressions, substitute_grafana_variables
from tests.support.tools import require_tool

RULES_DIR = Path(manifests.__file__).parent / "rules"
UNIT_TESTS_DIR = Path(__file__).parent / "promtool"

pytestmark = pytest.mark.slow


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool("promtool"), *args], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("file_name", manifests.RULE_FILES)
def test_promtool_check_rules(file_name: str) -> None:
    result = promtool("check", "rules", str(RULES_DIR / file_name))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_dir_has_no_unshipped_files() -> None:
    on_disk = sorted(p.name for p in RULES_DIR.glob("*.yaml"))
    assert on_disk == sorted(manifests.RULE_FILES), "every rule file must be listed in manifests.RULE_FILES"


def test_promtool_check_rules_on_the_generated_prometheus_rule(tmp_path: Path) -> None:
    """The exact groups shipped in the PrometheusRule (files + generated price rules)."""
    groups = manifests.alert_rule_groups({"a100-spot": 1.9, "l4": 0.7})
    path = tmp_path / "all.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": groups}))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("test_file", sorted(p.name for p in UNIT_TESTS_DIR.glob("*_test.yaml")))
def test_promtool_unit_tests(test_file: str) -> None:
    result = promtool("test", "rules", str(UNIT_TESTS_DIR / test_file))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_time_to_fire_unit_test() -> None:
    """Each alert is tested quiet at one evaluation time and firing at a later one."""
    alerts = {
        rule["alert"]
        for file_name in manifests.RULE_FILES
        for group in manifests.load_rule_file(file_name)
        for rule in group["rules"]
        if "alert" in rule
    }
    quiet: dict[str, list[str]] = {}
    firing: dict[str, list[str]] = {}
    for path in UNIT_TESTS_DIR.glob("*_test.yaml"):
        spec: dict[str, Any] = yaml.safe_load(path.read_text())
        for case in spec["tests"]:
            for check in case.get("alert_rule_test", []):
                bucket = firing if check.get("exp_alerts") else quiet
                bucket.setdefault(check["alertname"], []).append(check["eval_time"])
    missing = sorted(
        a
        for a in alerts
        if a not in firing
        or a not in quiet
        or min(map(manifests.duration_seconds, quiet[a])) >= min(map(manifests.duration_seconds, firing[a]))
    )
    assert not missing, f"alerts without a quiet-then-firing promtool test: {missing}"


def test_promtool_unit_tests_can_fail(tmp_path: Path) -> None:
    """Guard: a wrong expectation (the replica-down alert one evaluation early) must fail promtool."""
    source = UNIT_TESTS_DIR / "vllm_fast_test.yaml"
    spec = yaml.safe_load(source.read_text())
    spec["rule_files"] = [str((UNIT_TESTS_DIR / f).resolve()) for f in spec["rule_files"]]
    first_case = spec["tests"][0]["alert_rule_test"]
    first_case[0]["exp_alerts"] = first_case[1][
        "exp_alerts"
    ]  # expect firing at 5 s, before the failed scrape
    path = tmp_path / "early_test.yaml"
    path.write_text(yaml.safe_dump(spec))
    result = promtool("test", "rules", str(path))
    assert result.returncode != 0
    assert "VllmReplicaDown" in result.stdout + result.stderr


def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    """One recording rule per dashboard query (Grafana variables substituted); promtool parses them all."""
    rules = []
    where = {}
    for index, (file_name, title, expr) in enumerate(dashboard_expressions()):
        record = f"dashboard:query_{index}"
        rules.append({"record": record, "expr": substitute_grafana_variables(expr)})
        where[record] = f"{file_name} / {title}"
    assert len(rules) > 20, "expected the dashboards' queries; did the loader find the panels?"
    path = tmp_path / "dashboards.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, f"{result.stdout}{result.stderr}\nrules: {where}"


def test_promtool_parse_check_rejects_bad_promql(tmp_path: Path) -> None:
    path = tmp_path / "bad.rules.yaml"
    path.write_text(
        yaml.safe_dump({"groups": [{"name": "g", "rules": [{"record": "x:y", "expr": "sum by (a (b)"}]}]})
    )
    assert promtool("check", "rules", str(path)).returncode != 0
