"""`llmops diff`: resources, cost and policy verdicts between two plans, as tables and as a PR comment."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from llmops.infra import plandiff
from llmops.infra.cli import app
from typer.testing import CliRunner

FIXTURES = Path(__file__).parent / "fixtures" / "diff"


def test_fixture_plans_render_the_expected_markdown(tmp_path: Path) -> None:
    """Added, removed and changed resources; a pool up, a pool down; new, changed and resolved verdicts."""
    out = tmp_path / "comment.md"
    result = CliRunner().invoke(
        app, ["diff", str(FIXTURES / "base.json"), str(FIXTURES / "head.json"), "--markdown", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text() == (FIXTURES / "expected.md").read_text()
    assert "qwen-deployment" in result.output
    assert "-$400.90" in result.output


def test_diff_parts() -> None:
    before = json.loads((FIXTURES / "base.json").read_text())
    after = json.loads((FIXTURES / "head.json").read_text())
    diff = plandiff.diff_stack("aws-dev", before, after)
    changed = {c.name: c.keys for c in diff.resources if c.kind == "changed"}
    assert changed == {
        "l4-spot-group": ("maxSize",),
        "qwen-deployment": ("spec.replicas", "spec.template.spec.containers[0].image"),
    }
    pools = {line.name: round(line.delta, 2) for line in diff.pools}
    assert pools == {"l4-on-demand": -100.0, "l4-spot": 63.93}
    assert [c.kind for c in diff.policies] == ["new", "changed", "level", "resolved"]


def test_a_plan_against_itself_is_no_change() -> None:
    plan = json.loads((FIXTURES / "head.json").read_text())
    diffs = plandiff.diff_plans({"aws-dev": plan}, {"aws-dev": plan})
    assert diffs[0].empty
    assert "### aws-dev\n\nNo change." in plandiff.markdown(diffs)


def test_real_plans_of_a_changed_stack(repo_root: Path, tmp_path: Path) -> None:
    """Two `llmops plan --out` folders: a bigger spot pool and a new stack."""
    runner = CliRunner()
    project = tmp_path / "project"
    shutil.copytree(repo_root / "stacks", project / "stacks")
    (project / "Pulumi.yaml").write_text("name: llmops\n")
    base, head = tmp_path / "base", tmp_path / "head"
    for stack in ("aws-dev",):
        assert (
            runner.invoke(
                app, ["plan", "-s", stack, "--out", str(base), "--project-dir", str(project)]
            ).exit_code
            == 0
        )
    stack_file = project / "stacks" / "Pulumi.aws-dev.yaml"
    stack_file.write_text(stack_file.read_text().replace("      max: 4\n", "      max: 6\n"))
    for stack in ("aws-dev", "local"):
        assert (
            runner.invoke(
                app, ["plan", "-s", stack, "--out", str(head), "--project-dir", str(project)]
            ).exit_code
            == 0
        )
    out = tmp_path / "comment.md"
    result = runner.invoke(app, ["diff", str(base), str(head), "--markdown", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith(plandiff.COMMENT_MARKER + "\n")
    assert "| ~ | `l4-spot-group` | `aws:autoscaling/group:Group` | `maxSize` |" in text
    assert "### local (added stack)" in text
    # Two more spot g6.xlarge at the ceiling: 2 x 720 h x $0.3618 (the $1.24 model store on both sides).
    assert "| **every pool at its max** | $2,202.14 | $2,723.13 | +$520.99 |" in text


def test_a_missing_plan_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["diff", str(tmp_path / "nope"), str(FIXTURES / "head.json")])
    assert result.exit_code == 2
    assert (
        "nope: no such file or folder. Fix: pass a plan.json or an `llmops plan --out` folder"
        in result.stderr
    )


def test_plan_compare_prints_what_changed_since_the_last_plan(repo_root: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    project = tmp_path / "project"
    shutil.copytree(repo_root / "stacks", project / "stacks")
    (project / "Pulumi.yaml").write_text("name: llmops\n")
    out = tmp_path / "out"
    assert runner.invoke(app, ["plan", "--out", str(out), "--project-dir", str(project)]).exit_code == 0
    stack_file = project / "stacks" / "Pulumi.local.yaml"
    stack_file.write_text(stack_file.read_text().replace("      replicas: 1\n", "      replicas: 3\n"))
    result = runner.invoke(
        app, ["plan", "--out", str(out), "--project-dir", str(project), "--compare", str(out / "local")]
    )
    assert result.exit_code == 0, result.output
    assert "stack local" in result.output
    assert "spec.replicas" in result.output
    assert json.loads((out / "local" / "plan.json").read_text())["resources"]
