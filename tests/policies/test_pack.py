"""The CrossGuard pack: built from pulumi-policy's own types, served the way the Pulumi CLI runs it,
and every shipped stack passes it (no mandatory violation under policies/shipped.json)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi_policy as cg
import pytest
from llmops.infra import costing, policy_check
from llmops.infra.config import available_stacks, read_stack_file, to_pulumi_config
from llmops.infra.plan import UNKNOWN, run_plan
from llmops.policies import pack, shipped
from llmops.policies.rules import RULES, StackFacts

from tests.policies.cases import RESOURCE_CASES, Case
from tests.support.policy_pack import Analyzer, Diagnostic, running_pack

# Pulumi's wire marker for an unknown string (what `pulumi preview` sends for a computed value).
UNKNOWN_SENTINEL = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def test_policies_are_pulumi_policy_objects() -> None:
    built = pack.policies(StackFacts(config=None))
    assert len(built) == len(RULES) >= 25
    for policy, rule in zip(built, RULES, strict=True):
        expected = cg.StackValidationPolicy if rule.is_stack_rule else cg.ResourceValidationPolicy
        assert isinstance(policy, expected)
        assert policy.name == rule.id
        assert policy.description == rule.description
        assert isinstance(policy.enforcement_level, cg.EnforcementLevel)
        assert policy.remediation_steps == rule.remediation


def test_shipped_config_is_generated_from_the_waivers(repo_root: Path) -> None:
    assert (repo_root / "policies" / "shipped.json").read_text() == shipped.render()
    ids = {rule.id for rule in RULES}
    assert set(shipped.WAIVERS) <= ids
    assert all("#" in reason for reason in shipped.WAIVERS.values()), (
        "each waiver names the change that lifts it"
    )


@pytest.fixture(scope="module")
def analyzer() -> Iterator[Analyzer]:
    with running_pack() as running:
        yield running


def test_the_served_pack_describes_every_policy(analyzer: Analyzer) -> None:
    info = analyzer.info()
    assert info.name == "llmops"
    by_name = {p.name: p for p in info.policies}
    assert set(by_name) == {rule.id for rule in RULES}
    for rule in RULES:
        served = by_name[rule.id]
        assert served.description == rule.description
        assert served.remediation_steps == rule.remediation
        assert set(served.configSchema.properties) == set(rule.config_schema)


def _rule_messages(diagnostics: list[Diagnostic], rule_id: str) -> list[str]:
    return [d.message for d in diagnostics if d.policy == rule_id]


@pytest.mark.parametrize("case", RESOURCE_CASES, ids=lambda c: c.id)
def test_served_pack_passes_good_and_fails_bad_resources(analyzer: Analyzer, case: Case) -> None:
    urn = f"urn:pulumi:test::llmops::{case.type}::sample"
    assert _rule_messages(analyzer.analyze(case.type, urn, "sample", case.good), case.rule) == []
    found = _rule_messages(analyzer.analyze(case.type, urn, "sample", case.bad), case.rule)
    assert any(case.message in m and "\nFix: " in m for m in found), found


def _as_preview(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _as_preview(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_preview(v) for v in value]
    return UNKNOWN_SENTINEL if value == UNKNOWN else value


def _pack_findings(raw_stack: Any, stack: str, resources: list[dict[str, Any]]) -> list[Diagnostic]:
    with running_pack(to_pulumi_config(raw_stack), stack) as running:
        running.configure(policy_check.load_pack_config())
        found: list[Diagnostic] = []
        for r in resources:
            found.extend(running.analyze(r["type"], r["urn"], r["name"], r["inputs"]))
        found.extend(running.analyze_stack(resources))
    return found


@pytest.mark.parametrize("stack", available_stacks(Path(__file__).resolve().parents[2] / "stacks"))
@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
def test_every_shipped_stack_passes_the_pack(repo_root: Path, stack: str, preview: bool) -> None:
    raw = read_stack_file(repo_root / "stacks", stack)
    plan = run_plan(raw, stack, preview=preview)
    resources = [r.to_json() for r in plan.resources]
    if preview:
        resources = [r | {"inputs": _as_preview(r["inputs"])} for r in resources]
    found = _pack_findings(raw, stack, resources)
    assert [d for d in found if d.level == "mandatory"] == []
    assert not [d for d in found if "during preview" in d.message], "a policy could not run on unknown values"
    # The plan evaluates the same rules and finds the same things.
    region_value = raw.other.get("aws:region")
    region = region_value if isinstance(region_value, str) else None
    estimate = costing.estimate(plan.config, region, regions=costing.cloud_regions(plan.config, raw.other))
    report = policy_check.check(plan, region, estimate, policy_check.load_pack_config())
    from_plan = sorted((v.id, v.level.value, v.message) for v in report.verdicts)
    from_pack = sorted((d.policy, d.level, d.message.split("\n")[1]) for d in found)
    assert from_pack == from_plan


def test_the_policy_reference_is_up_to_date(repo_root: Path) -> None:
    from llmops.policies import reference

    assert (repo_root / "docs" / "policies.md").read_text() == reference.render(), (
        "regenerate it: python -m llmops.policies.reference > docs/policies.md"
    )


def test_every_waiver_is_still_needed(repo_root: Path) -> None:
    """A waived rule that every shipped stack now passes gets its mandatory level back."""
    violated: set[str] = set()
    for stack in available_stacks(repo_root / "stacks"):
        raw = read_stack_file(repo_root / "stacks", stack)
        plan = run_plan(raw, stack)
        region_value = raw.other.get("aws:region")
        region = region_value if isinstance(region_value, str) else None
        regions = costing.cloud_regions(plan.config, raw.other)
        report = policy_check.check(plan, region, costing.estimate(plan.config, region, regions=regions), {})
        violated |= {v.id for v in report.verdicts}
    stale = sorted(set(shipped.WAIVERS) - violated)
    assert stale == [], (
        f"no shipped stack violates {stale} any more: remove them from policies/shipped.py WAIVERS, then run "
        "python -m llmops.policies.shipped > policies/shipped.json and python -m llmops.policies.reference > docs/policies.md"
    )
