"""`llmops plan` end to end: what it prints, writes, and refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from llmops.infra.cli import app
from typer.testing import CliRunner


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_plan_writes_plan_json_and_manifests(runner: CliRunner, repo_root: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["plan", "--stack", "local", "--out", str(tmp_path), "--project-dir", str(repo_root)]
    )
    assert result.exit_code == 0, result.output
    assert "qwen2-5-0-5b-deployment" in result.output
    assert "llmops:serving:VllmModel" in result.output
    plan = json.loads((tmp_path / "local" / "plan.json").read_text())
    assert plan["stack"] == "local"
    for resource in plan["resources"]:
        assert set(resource) >= {"urn", "type", "name", "parent", "inputs"}
    manifests = sorted(p.name for p in (tmp_path / "local" / "manifests").iterdir())
    assert manifests == [
        "configmap.llmops.qwen2-5-0-5b-progress-probe.yaml",
        "deployment.llmops.qwen2-5-0-5b.yaml",
        "namespace._cluster.llmops.yaml",
        "networkpolicy.llmops.serving-allow-model-port.yaml",
        "networkpolicy.llmops.serving-default-deny-ingress.yaml",
        "poddisruptionbudget.llmops.qwen2-5-0-5b.yaml",
        "service.llmops.qwen2-5-0-5b.yaml",
    ]


def test_plan_json_flag_prints_the_plan(runner: CliRunner, repo_root: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", "--json", "--out", str(tmp_path), "--project-dir", str(repo_root)])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["summary"]["by_package"] == {"kubernetes": 8, "llmops": 1}


def test_unknown_stack_exits_2_and_writes_nothing(runner: CliRunner, repo_root: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["plan", "--stack", "nope", "--out", str(tmp_path), "--project-dir", str(repo_root)]
    )
    assert result.exit_code == 2
    assert "unknown stack 'nope'" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_bad_config_exits_2_with_every_problem(runner: CliRunner, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text("name: llmops\nruntime: python\n")
    (project / "stacks" / "Pulumi.bad.yaml").write_text(
        "config:\n  llmops:cluster: {kind: eks}\n  llmops:modles: []\n"
    )
    out = tmp_path / "out"
    result = runner.invoke(app, ["plan", "--stack", "bad", "--out", str(out), "--project-dir", str(project)])
    assert result.exit_code == 2
    assert "2 problems in the llmops config" in result.stderr
    assert "cluster.kind: 'eks' is not one of 'existing', 'k3s'" in result.stderr
    assert "did you mean 'llmops:models'?" in result.stderr
    assert not out.exists()


def test_a_failed_plan_keeps_the_previous_output(runner: CliRunner, repo_root: Path, tmp_path: Path) -> None:
    ok = runner.invoke(app, ["plan", "--out", str(tmp_path), "--project-dir", str(repo_root)])
    assert ok.exit_code == 0
    before = (tmp_path / "local" / "plan.json").read_text()
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text("name: llmops\n")
    (project / "stacks" / "Pulumi.local.yaml").write_text("config:\n  llmops:cluster: {kind: nope}\n")
    bad = runner.invoke(app, ["plan", "--out", str(tmp_path), "--project-dir", str(project)])
    assert bad.exit_code == 2
    assert (tmp_path / "local" / "plan.json").read_text() == before


def test_aws_dev_plan_shows_the_gpu_operator_before_the_model(
    runner: CliRunner, repo_root: Path, tmp_path: Path
) -> None:
    result = runner.invoke(
        app,
        ["plan", "--stack", "aws-dev", "--out", str(tmp_path), "--project-dir", str(repo_root)],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 0, result.output
    assert "gpu llmops:addons:GpuOperator" in result.output
    assert "gpu-dcgm-service-monitor" in result.output
    assert (
        "qwen2-5-0-5b llmops:serving:VllmModel after gpu-release, autoscaling-release, obs-kube-prometheus-stack"
        in result.output
    )
    manifests = {p.name for p in (tmp_path / "aws-dev" / "manifests").iterdir()}
    assert {
        "helmrelease.gpu-operator.gpu-gpu-operator.yaml",
        "servicemonitor.gpu-operator.gpu-dcgm-exporter.yaml",
    } <= manifests


def test_plan_prints_autoscaling_and_refuses_a_ceiling_over_a_mandatory_budget(
    runner: CliRunner, repo_root: Path, tmp_path: Path
) -> None:
    ok = runner.invoke(
        app, ["plan", "--stack", "aws-dev", "--out", str(tmp_path / "a"), "--project-dir", str(repo_root)]
    )
    assert ok.exit_code == 0, ok.output
    assert "autoscaling (KEDA" in ok.output
    assert "with every autoscaled model at its max: $" in ok.output
    plan = json.loads((tmp_path / "a" / "aws-dev" / "plan.json").read_text())
    assert plan["cost"]["autoscaling"]["qwen2-5-0-5b"]["triggers"] == [
        "reactive",
        "predictive",
        "window-workday",
    ]
    # The same stack with the budget made mandatory: the planned estimate fits, the ceiling does not.
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text("name: llmops\nruntime: python\n")
    text = (repo_root / "stacks" / "Pulumi.aws-dev.yaml").read_text()
    text = text.replace("    monthlyUsd: 1500", "    monthlyUsd: 1500\n    enforcement: mandatory")
    (project / "stacks" / "Pulumi.aws-dev.yaml").write_text(text)
    over = runner.invoke(
        app, ["plan", "--stack", "aws-dev", "--out", str(tmp_path / "b"), "--project-dir", str(project)]
    )
    assert over.exit_code == 2
    assert "budget.monthlyUsd: the autoscaled ceiling $" in over.stderr
    assert "Fix: lower the models' autoscaling.maxReplicas" in over.stderr
