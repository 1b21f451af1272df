"""What changes between two plans: resources by URN, monthly cost per pool and model, policy verdicts.

Pure Python over plan.json documents (`llmops plan` writes them); `llmops diff` prints the
result as tables and writes it as Markdown for a pull-request comment.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The first line of the comment: the CI workflow finds its earlier comment by it and updates it.
COMMENT_MARKER = "<!-- llmops-plan-diff -->"
# A pull-request comment holds at most 65,536 characters; rows past these limits are counted, not listed.
MAX_RESOURCE_ROWS = 40
MAX_CHANGED_KEYS = 6


class PlanFileError(ValueError):
    """A plan path that is not a plan; the message names the path and the fix."""


@dataclass(frozen=True)
class ResourceChange:
    kind: str  # added | removed | changed
    urn: str
    type: str
    name: str
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class CostLine:
    name: str
    before: float | None
    after: float | None

    @property
    def delta(self) -> float:
        return (self.after or 0.0) - (self.before or 0.0)


@dataclass(frozen=True)
class VerdictChange:
    kind: str  # new | changed | level | resolved
    id: str
    resource: str
    message: str
    level_before: str | None
    level_after: str | None


@dataclass
class StackDiff:
    stack: str
    status: str  # changed | added | removed
    resources: list[ResourceChange] = field(default_factory=list)
    pools: list[CostLine] = field(default_factory=list)
    models: list[CostLine] = field(default_factory=list)
    total: CostLine = field(default_factory=lambda: CostLine("stack", None, None))
    ceiling: CostLine = field(default_factory=lambda: CostLine("ceiling", None, None))
    policies: list[VerdictChange] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for r in self.resources if r.kind == kind)

    @property
    def empty(self) -> bool:
        costs = [*self.pools, *self.models, self.total, self.ceiling]
        return not self.resources and not self.policies and all(abs(c.delta) < 0.005 for c in costs)


# --------------------------------------------------------------------------- loading


def load_plans(path: Path) -> dict[str, dict[str, Any]]:
    """Stack name -> plan.json: a plan.json file, a `<out>/<stack>/` folder, or an `--out` folder of them."""
    if path.is_file():
        files = [path]
    elif (path / "plan.json").is_file():
        files = [path / "plan.json"]
    elif path.is_dir():
        files = sorted(path.glob("*/plan.json"))
    else:
        raise PlanFileError(
            f"{path}: no such file or folder. Fix: pass a plan.json or an `llmops plan --out` folder"
        )
    plans: dict[str, dict[str, Any]] = {}
    for file in files:
        try:
            document = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            raise PlanFileError(
                f"{file}: is not a plan.json ({exc}). Fix: write it with `llmops plan`"
            ) from None
        if not isinstance(document, dict) or "stack" not in document or "resources" not in document:
            raise PlanFileError(f"{file}: has no 'stack' and 'resources'. Fix: write it with `llmops plan`")
        plans[str(document["stack"])] = document
    return plans


# --------------------------------------------------------------------------- comparing


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping) and value:
        for key in sorted(value):
            yield from _leaves(value[key], f"{path}.{key}" if path else str(key))
    elif isinstance(value, list) and value:
        for i, inner in enumerate(value):
            yield from _leaves(inner, f"{path}[{i}]")
    else:
        yield path, value


def changed_keys(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, ...]:
    """Input paths (`spec.template.spec.containers[0].image`) whose values differ."""
    old, new = dict(_leaves(before)), dict(_leaves(after))
    return tuple(
        key for key in sorted(old.keys() | new.keys()) if old.get(key, _MISSING) != new.get(key, _MISSING)
    )


_MISSING = object()


def _resources(plan: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    return {str(r["urn"]): r for r in (plan or {}).get("resources", [])}


def _cost_lines(before: Mapping[str, Any], after: Mapping[str, Any], key: str) -> list[CostLine]:
    def amounts(cost: Mapping[str, Any]) -> dict[str, float]:
        entries = cost.get(key) or {}
        return {
            name: float(entry["monthly_usd"] if isinstance(entry, Mapping) else entry)
            for name, entry in entries.items()
        }

    old, new = amounts(before), amounts(after)
    return [CostLine(name, old.get(name), new.get(name)) for name in sorted(old.keys() | new.keys())]


def _verdicts(plan: Mapping[str, Any] | None) -> dict[tuple[str, str, str], str]:
    return {
        (str(v["id"]), str(v["resource"]), str(v["message"])): str(v["level"])
        for v in (plan or {}).get("policies", [])
    }


def diff_stack(stack: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> StackDiff:
    status = "added" if before is None else "removed" if after is None else "changed"
    result = StackDiff(stack, status)
    old, new = _resources(before), _resources(after)
    for urn in sorted(new.keys() - old.keys()):
        result.resources.append(ResourceChange("added", urn, new[urn]["type"], new[urn]["name"]))
    for urn in sorted(old.keys() - new.keys()):
        result.resources.append(ResourceChange("removed", urn, old[urn]["type"], old[urn]["name"]))
    for urn in sorted(old.keys() & new.keys()):
        keys = changed_keys(old[urn].get("inputs") or {}, new[urn].get("inputs") or {})
        if keys:
            result.resources.append(ResourceChange("changed", urn, new[urn]["type"], new[urn]["name"], keys))
    cost_before = (before or {}).get("cost") or {}
    cost_after = (after or {}).get("cost") or {}
    result.pools = _cost_lines(cost_before, cost_after, "per_pool")
    result.models = _cost_lines(cost_before, cost_after, "per_model")
    result.total = CostLine("stack", cost_before.get("monthly_usd"), cost_after.get("monthly_usd"))
    result.ceiling = CostLine(
        "ceiling", cost_before.get("ceiling_monthly_usd"), cost_after.get("ceiling_monthly_usd")
    )
    verdicts_before, verdicts_after = _verdicts(before), _verdicts(after)
    new_keys = sorted(verdicts_after.keys() - verdicts_before.keys())
    gone_keys = sorted(verdicts_before.keys() - verdicts_after.keys())

    # A finding whose text changed (a new amount, say) is the same finding when the policy and the
    # resource have exactly one on each side.
    def by_place(keys: list[tuple[str, str, str]]) -> dict[tuple[str, str], list[tuple[str, str, str]]]:
        places: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
        for key in keys:
            places.setdefault(key[:2], []).append(key)
        return places

    new_places, gone_places = by_place(new_keys), by_place(gone_keys)
    for place in sorted(new_places.keys() & gone_places.keys()):
        if len(new_places[place]) == len(gone_places[place]) == 1:
            new_key, gone_key = new_places[place][0], gone_places[place][0]
            new_keys.remove(new_key)
            gone_keys.remove(gone_key)
            result.policies.append(
                VerdictChange("changed", *new_key, verdicts_before[gone_key], verdicts_after[new_key])
            )
    for key in new_keys:
        result.policies.append(VerdictChange("new", *key, None, verdicts_after[key]))
    for key in gone_keys:
        result.policies.append(VerdictChange("resolved", *key, verdicts_before[key], None))
    for key in sorted(verdicts_before.keys() & verdicts_after.keys()):
        if verdicts_before[key] != verdicts_after[key]:
            result.policies.append(VerdictChange("level", *key, verdicts_before[key], verdicts_after[key]))
    result.policies.sort(key=lambda c: (_VERDICT_ORDER[c.kind], c.id, c.resource, c.message))
    return result


def diff_plans(
    before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]]
) -> list[StackDiff]:
    return [
        diff_stack(stack, before.get(stack), after.get(stack))
        for stack in sorted(before.keys() | after.keys())
    ]


# --------------------------------------------------------------------------- Markdown


def money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def signed(value: float) -> str:
    if abs(value) < 0.005:
        return "±$0.00"
    return f"{'+' if value > 0 else '-'}${abs(value):,.2f}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def resource_label(urn: str) -> str:
    return urn.rpartition("::")[2]


_RESOURCE_MARK = {"added": "+", "removed": "-", "changed": "~"}
_VERDICT_WORD = {"new": "new", "changed": "finding changed", "level": "level changed", "resolved": "resolved"}
_VERDICT_ORDER = {kind: i for i, kind in enumerate(_VERDICT_WORD)}


def _summary_row(diff: StackDiff) -> str:
    counts = f"+{diff.count('added')} -{diff.count('removed')} ~{diff.count('changed')}"
    total = f"{money(diff.total.before)} → {money(diff.total.after)} ({signed(diff.total.delta)})"
    ceiling = f"{money(diff.ceiling.before)} → {money(diff.ceiling.after)} ({signed(diff.ceiling.delta)})"
    new = sum(1 for p in diff.policies if p.kind == "new")
    resolved = sum(1 for p in diff.policies if p.kind == "resolved")
    changed = sum(1 for p in diff.policies if p.kind in ("level", "changed"))
    policies = f"{new} new, {resolved} resolved" + (f", {changed} changed" if changed else "")
    stack = diff.stack + ("" if diff.status == "changed" else f" ({diff.status})")
    return f"| {stack} | {counts} | {total} | {ceiling} | {policies} |"


def _cost_table(title: str, lines: Sequence[CostLine], extra: Sequence[CostLine] = ()) -> list[str]:
    rows = [line for line in lines if abs(line.delta) >= 0.005 or line.before is None or line.after is None]
    rows += list(extra)
    if not rows:
        return []
    out = [f"| {title} | before | after | change |", "| --- | ---: | ---: | ---: |"]
    for line in rows:
        name = f"**{line.name}**" if line in extra else _cell(line.name)
        out.append(f"| {name} | {money(line.before)} | {money(line.after)} | {signed(line.delta)} |")
    return [*out, ""]


def stack_markdown(diff: StackDiff) -> list[str]:
    out = [f"### {diff.stack}" + ("" if diff.status == "changed" else f" ({diff.status} stack)"), ""]
    if diff.empty:
        return [*out, "No change.", ""]
    if diff.resources:
        out += [
            f"**Resources**: {diff.count('added')} added, {diff.count('removed')} removed, "
            f"{diff.count('changed')} changed",
            "",
            "| | resource | type | changed inputs |",
            "| --- | --- | --- | --- |",
        ]
        for change in diff.resources[:MAX_RESOURCE_ROWS]:
            keys = ", ".join(f"`{_cell(k)}`" for k in change.keys[:MAX_CHANGED_KEYS])
            if len(change.keys) > MAX_CHANGED_KEYS:
                keys += f" and {len(change.keys) - MAX_CHANGED_KEYS} more"
            mark, name, type_ = _RESOURCE_MARK[change.kind], _cell(change.name), _cell(change.type)
            out.append(f"| {mark} | `{name}` | `{type_}` | {keys} |")
        if len(diff.resources) > MAX_RESOURCE_ROWS:
            out.append(
                f"| | … and {len(diff.resources) - MAX_RESOURCE_ROWS} more (see the plans artifact) | | |"
            )
        out.append("")
    cost = _cost_table(
        "pool",
        diff.pools,
        [diff.total, CostLine("every pool at its max", diff.ceiling.before, diff.ceiling.after)],
    )
    if any(abs(c.delta) >= 0.005 for c in [*diff.pools, diff.total, diff.ceiling]):
        out += ["**Monthly cost** (30-day month, planned sizes and schedules)", "", *cost]
        out += _cost_table("model", diff.models)
    if diff.policies:
        out += [
            "**Policy verdicts**",
            "",
            "| | level | policy | resource | finding |",
            "| --- | --- | --- | --- | --- |",
        ]
        for change in diff.policies:
            level = (
                f"{change.level_before} → {change.level_after}"
                if change.level_before and change.level_after and change.level_before != change.level_after
                else str(change.level_after or change.level_before)
            )
            where, finding = _cell(resource_label(change.resource)), _cell(change.message)
            out.append(f"| {_VERDICT_WORD[change.kind]} | {level} | `{change.id}` | {where} | {finding} |")
        out.append("")
    return out


def markdown(diffs: Sequence[StackDiff], title: str = "llmops plan: what this change does") -> str:
    """The pull-request comment: one summary row per stack, then each stack's details."""
    lines = [
        COMMENT_MARKER,
        f"## {title}",
        "",
        "| stack | resources | monthly cost | every pool at its max | policy verdicts |",
        "| --- | --- | --- | --- | --- |",
        *(_summary_row(diff) for diff in diffs),
        "",
    ]
    for diff in diffs:
        lines += stack_markdown(diff)
    mandatory = [p for d in diffs for p in d.policies if p.level_after == "mandatory" != p.level_before]
    if mandatory:
        lines += [
            f"**{len(mandatory)} mandatory policy violation(s) new in this change**: the plan fails until "
            "they are fixed.",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"
