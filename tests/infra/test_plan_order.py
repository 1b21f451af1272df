"""plan.json lists resources in URN order, so two plans of the same stack diff cleanly."""

from __future__ import annotations

from pathlib import Path

from llmops.infra.config import read_stack_file
from llmops.infra.plan import run_plan


def test_resources_are_sorted_by_urn_and_runs_agree(repo_root: Path) -> None:
    raw = read_stack_file(repo_root / "stacks", "local")
    first = run_plan(raw, "local").to_json()["resources"]
    second = run_plan(raw, "local").to_json()["resources"]
    urns = [r["urn"] for r in first]
    assert urns == sorted(urns) and len(urns) > 3
    assert first == second
