"""`llmops plan`'s policy verdicts: the pack's rules over the plan's resources, before anything is written."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from importlib import resources as package_files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops.policies.rules import Level, Report, Resource, StackFacts, evaluate
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from llmops.infra.costing import StackEstimate
    from llmops.infra.plan import Plan

SHIPPED_CONFIG = "shipped.json"


class PolicyConfigError(ValueError):
    """A policy pack config that cannot be used; the message names the key and the fix."""


def load_pack_config(path: Path | None = None) -> dict[str, Any]:
    """A `--policy-pack-config` file; default: the pack's own policies/shipped.json."""
    if path is None:
        text = package_files.files("llmops.policies").joinpath(SHIPPED_CONFIG).read_text()
        source = f"policies/{SHIPPED_CONFIG}"
    else:
        try:
            text = path.read_text()
        except OSError as exc:
            raise FileNotFoundError(
                f"--policy-config: {path}: {exc.strerror}. Fix: name an existing JSON file"
            ) from None
        source = str(path)
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise PolicyConfigError(
            f"{source}: is not valid JSON ({exc}). Fix: write the file as Pulumi's --policy-pack-config JSON"
        ) from None
    problems = _config_problems(config)
    if problems:
        raise PolicyConfigError(f"{source}: " + "; ".join(problems))
    return config


def _config_problems(config: Any) -> list[str]:
    from llmops.policies.rules import RULES

    if not isinstance(config, Mapping):
        return ['is not a JSON object. Fix: map policy ids to {"enforcementLevel": ...}']
    known = {rule.id for rule in RULES} | {"all"}
    levels = {level.value for level in Level}
    problems = []
    for key, entry in config.items():
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            fix = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(sorted(known))}"
            problems.append(f"{key}: is not a policy of the pack. Fix: {fix}")
            continue
        level = (
            entry
            if isinstance(entry, str)
            else (entry.get("enforcementLevel") if isinstance(entry, Mapping) else None)
        )
        if isinstance(entry, Mapping) and "enforcementLevel" not in entry:
            continue
        if level not in levels:
            problems.append(f"{key}.enforcementLevel: {level!r} is not one of {', '.join(sorted(levels))}")
    return problems


def resources_of(plan: Plan) -> list[Resource]:
    return [Resource(r.type, r.urn, r.name, r.inputs, r.parent) for r in plan.resources]


def check(plan: Plan, region: str | None, estimate: StackEstimate, pack_config: Mapping[str, Any]) -> Report:
    facts = StackFacts(config=plan.config, region=region, estimate=estimate)
    return evaluate(resources_of(plan), facts, pack_config)


def remediation(rule_id: str) -> str:
    from llmops.policies.rules import rule_by_id

    return rule_by_id(rule_id).remediation


def to_json(report: Report) -> list[dict[str, str]]:
    return [verdict.to_json() for verdict in report.verdicts]


def render(report: Report, console: Console) -> None:
    """The violations by level, then how many policies passed."""
    counts = {state: 0 for state in ("passed", "violated", "not applicable", "disabled")}
    for outcome in report.outcome.values():
        counts[outcome.split(":", 1)[0]] += 1
    if report.verdicts:
        table = Table(title="policy violations")
        # The message names the resource; plan.json has its URN.
        for column in ("level", "policy", "finding"):
            table.add_column(column)
        order = {Level.MANDATORY: 0, Level.ADVISORY: 1}
        for verdict in sorted(report.verdicts, key=lambda v: (order.get(v.level, 2), v.id)):
            colour = "red" if verdict.level is Level.MANDATORY else "yellow"
            table.add_row(
                f"[{colour}]{verdict.level.value}[/{colour}]",
                verdict.id,
                escape(verdict.message),
            )
        console.print(table)
    mandatory = len(report.mandatory)
    console.print(
        f"policies: {len(report.outcome)} checked: {counts['passed']} passed, {counts['violated']} violated "
        f"({mandatory} mandatory and {len(report.verdicts) - mandatory} advisory findings), "
        f"{counts['not applicable']} not applicable, {counts['disabled']} disabled"
    )
