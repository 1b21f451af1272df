"""`llmops plan` and the policy pack: verdicts printed and recorded; a mandatory one fails and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from llmops.infra.cli import app
from llmops.policies.rules import RULES
from typer.testing import CliRunner


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
            "message": "budget.monthlyUsd: every pool at its max costs $2,202.14 a month, over the budget $1,500.00",
        }
    ]


def test_a_mandatory_violation_exits_2_and_keeps_the_previous_output(repo_root: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "out"
    args = ["plan", "--stack", "aws-dev", "--out", str(out), "--project-dir", str(repo_root)]
    ok = runner.invoke(app, args)
    assert ok.exit_code == 0, ok.output
    before = (out / "aws-dev" / "plan.json").read_text()
    manifests = sorted(p.name for p in (out / "aws-dev" / "manifests").iterdir())
    tight = tmp_path / "tight.json"
    tight.write_text(json.dumps({"pool-max-ceiling": {"maxNodes": 2}}))  # the spot pool may grow to 4
    failed = runner.invoke(app, [*args, "--policy-config", str(tight)])
    assert failed.exit_code == 2
    assert "mandatory checks failed; nothing was written" in failed.stderr
    assert (
        "policy pool-max-ceiling: Group l4-spot-group: maxSize is 4, above the ceiling of 2 machines. "
        "Fix: Lower the pool's max" in failed.stderr
    )
    assert (out / "aws-dev" / "plan.json").read_text() == before
    assert sorted(p.name for p in (out / "aws-dev" / "manifests").iterdir()) == manifests
    assert [p.name for p in out.iterdir()] == ["aws-dev"]  # no staging folder left behind


def test_json_output_still_carries_the_plan_when_a_policy_fails(repo_root: Path, tmp_path: Path) -> None:
    tight = tmp_path / "tight.json"
    tight.write_text(json.dumps({"pool-max-ceiling": {"maxNodes": 2}}))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "plan",
            "-s",
            "aws-dev",
            "--json",
            "--out",
            str(out),
            "--project-dir",
            str(repo_root),
            "--policy-config",
            str(tight),
        ],
    )
    assert result.exit_code == 2
    printed = json.loads(result.stdout)
    mandatory = [v for v in printed["policies"] if v["level"] == "mandatory"]
    # The group and its scheduled actions; the file replaces policies/shipped.json, waivers and all.
    assert {v["resource"].rsplit("::", 1)[1] for v in mandatory if v["id"] == "pool-max-ceiling"} >= {
        "l4-spot-group"
    }
    assert not out.exists()


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
