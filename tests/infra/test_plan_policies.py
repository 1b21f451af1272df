"""`llmops plan` and the policy pack: verdicts printed and recorded; a mandatory one fails and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from infra.cli import app
from policies.rules import RULES


def test_plan_records_policy_verdicts(repo_root: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["plan", "--stack", "aws-dev", "--out", str(tmp_path), "--project-dir", str(repo_root)]
    )
    assert result.exit_code == 0, result.output
    assert "policy violations" in result.output
    assert f"policies: {len(RULES)} checked" in result.output
    verdicts = json.loads((tmp_path / "aws-dev" / "plan.json").read_text())["policies"]
    assert all(set(v) == {"id", "level", "resource", "message"} for v in verdicts)
    assert {v["level"] for v in verdicts} == {"advisory"}
    ceiling = [v for v in verdicts if v["id"] == "budget-ceiling"]
    assert ceiling == [
        {
            "id": "budget-ceiling",
            "level": "advisory",
            "resource": "stack",
            "message": "budget.monthlyUsd: every pool at its max costs $2,200.90 a month, over the budget $1,500.00",
        }
    ]


def test_a_mandatory_violation_exits_2_and_keeps_the_previous_output(repo_root: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "out"
    ok = runner.invoke(app, ["plan", "--out", str(out), "--project-dir", str(repo_root)])
    assert ok.exit_code == 0, ok.output
    before = (out / "local" / "plan.json").read_text()
    manifests = sorted(p.name for p in (out / "local" / "manifests").iterdir())
    strict = tmp_path / "strict.json"
    strict.write_text("{}")  # no waivers: every rule at its own level
    failed = runner.invoke(
        app, ["plan", "--out", str(out), "--project-dir", str(repo_root), "--policy-config", str(strict)]
    )
    assert failed.exit_code == 2
    assert "mandatory checks failed; nothing was written" in failed.stderr
    assert (
        "policy workload-non-root: Deployment qwen2-5-0-5b-deployment spec.template.spec.containers[0] (vllm): "
        "may run as root (UID 0). Fix: Set securityContext.runAsNonRoot: true" in failed.stderr
    )
    assert (out / "local" / "plan.json").read_text() == before
    assert sorted(p.name for p in (out / "local" / "manifests").iterdir()) == manifests
    assert [p.name for p in out.iterdir()] == ["local"]  # no staging folder left behind


def test_json_output_still_carries_the_plan_when_a_policy_fails(repo_root: Path, tmp_path: Path) -> None:
    strict = tmp_path / "strict.json"
    strict.write_text("{}")
    result = CliRunner().invoke(
        app,
        [
            "plan",
            "--json",
            "--out",
            str(tmp_path / "out"),
            "--project-dir",
            str(repo_root),
            "--policy-config",
            str(strict),
        ],
    )
    assert result.exit_code == 2
    printed = json.loads(result.stdout)
    assert {v["level"] for v in printed["policies"]} == {"mandatory"}
    assert not (tmp_path / "out").exists()


def test_a_bad_policy_config_is_a_clear_error(repo_root: Path, tmp_path: Path) -> None:
    config = tmp_path / "bad.json"
    config.write_text(
        json.dumps({"workload-non-rot": "advisory", "model-pdb": {"enforcementLevel": "sometimes"}})
    )
    result = CliRunner().invoke(
        app,
        [
            "plan",
            "--out",
            str(tmp_path / "out"),
            "--project-dir",
            str(repo_root),
            "--policy-config",
            str(config),
        ],
    )
    assert result.exit_code == 2
    assert (
        "workload-non-rot: is not a policy of the pack. Fix: did you mean 'workload-non-root'?"
        in result.stderr
    )
    assert (
        "model-pdb.enforcementLevel: 'sometimes' is not one of advisory, disabled, mandatory" in result.stderr
    )
    assert not (tmp_path / "out").exists()
