"""What a rule is, what it sees, and how a set of rules is evaluated.

Pure Python: no Pulumi imports. A resource is its type token, URN, name and inputs
as the engine serialises them (camelCase keys), the same shape `plan.json` records
and a CrossGuard pack receives; values not known until deploy are the string
`[unknown]` and masked secrets `[secret]`, as in the plan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmops.infra.config import StackConfig
    from llmops.infra.costing import StackEstimate

# The plan's markers (infra/plan.py), repeated here so this module stays free of Pulumi.
UNKNOWN = "[unknown]"
SECRET_MASK = "[secret]"


class Level(StrEnum):
    """CrossGuard's enforcement levels (remediate is not used: our rules only report)."""

    ADVISORY = "advisory"
    MANDATORY = "mandatory"
    DISABLED = "disabled"


class Category(StrEnum):
    SECURITY = "security"
    RELIABILITY = "reliability"
    COST = "cost"


@dataclass(frozen=True)
class Resource:
    """One resource as the engine registers it."""

    type: str
    urn: str
    name: str
    props: Mapping[str, Any]
    parent: str | None = None


@dataclass(frozen=True)
class Violation:
    """A stack rule's finding; `urn` names the resource it is about, None for the stack itself."""

    message: str
    urn: str | None = None


class NotApplicable(Exception):
    """Raised by a rule that cannot judge this resource or stack (the reason says why)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class StackFacts:
    """What stack rules know beside the resources: the validated stack config and its region.

    `config` is None where the pack runs without the stack's config (a Pulumi CLI that does
    not hand it to policy packs); rules that need it are then not applicable.
    """

    config: StackConfig | None
    region: str | None = None
    estimate: StackEstimate | None = None
    regions: dict[str, str] | None = None
    """Cloud -> region, for the pools of a stack spanning clouds."""

    def cost(self) -> StackEstimate:
        """The stack's cost, fit and budget verdict (computed once, from the capacity model)."""
        if self.config is None:
            raise NotApplicable("the stack's config is not available to the policy pack")
        if self.estimate is None:
            from llmops.infra import costing

            self.estimate = costing.estimate(self.config, self.region, regions=self.regions)
        return self.estimate


ResourceCheck = Callable[[Resource, Mapping[str, Any]], Iterable[str]]
StackCheck = Callable[[Sequence[Resource], StackFacts, Mapping[str, Any]], Iterable[Violation]]


@dataclass(frozen=True)
class Rule:
    """One policy: a resource rule (`check`, over each resource of `types`) or a stack rule."""

    id: str
    description: str
    remediation: str
    level: Level
    category: Category
    check: ResourceCheck | None = None
    check_stack: StackCheck | None = None
    types: tuple[str, ...] = ()
    """Type tokens (or prefixes ending in ':') a resource rule looks at; empty: every type."""
    config_schema: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """JSON-schema properties of the rule's settings, each with its default."""
    level_from_budget: bool = False
    """The level follows the stack's `budget.enforcement` instead of `level`."""

    @property
    def is_stack_rule(self) -> bool:
        return self.check_stack is not None

    def applies_to(self, type_token: str) -> bool:
        if not self.types:
            return True
        return any(type_token == t or (t.endswith(":") and type_token.startswith(t)) for t in self.types)

    def defaults(self) -> dict[str, Any]:
        return {key: schema["default"] for key, schema in self.config_schema.items() if "default" in schema}

    def level_for(self, facts: StackFacts | None) -> Level:
        if self.level_from_budget:
            config = facts.config if facts else None
            if config is None or config.budget.enforcement != "mandatory":
                return Level.ADVISORY
            return Level.MANDATORY
        return self.level


RULES: list[Rule] = []


def register(rule: Rule) -> Rule:
    if any(existing.id == rule.id for existing in RULES):
        raise ValueError(f"policy id {rule.id!r} is registered twice")
    RULES.append(rule)
    return rule


def resource_rule(
    id: str,
    *,
    description: str,
    remediation: str,
    level: Level,
    category: Category,
    types: Sequence[str] = (),
    config_schema: Mapping[str, Mapping[str, Any]] | None = None,
) -> Callable[[ResourceCheck], ResourceCheck]:
    def wrap(check: ResourceCheck) -> ResourceCheck:
        register(
            Rule(
                id=id,
                description=description,
                remediation=remediation,
                level=level,
                category=category,
                check=check,
                types=tuple(types),
                config_schema=dict(config_schema or {}),
            )
        )
        return check

    return wrap


def stack_rule(
    id: str,
    *,
    description: str,
    remediation: str,
    level: Level,
    category: Category,
    config_schema: Mapping[str, Mapping[str, Any]] | None = None,
    level_from_budget: bool = False,
) -> Callable[[StackCheck], StackCheck]:
    def wrap(check: StackCheck) -> StackCheck:
        register(
            Rule(
                id=id,
                description=description,
                remediation=remediation,
                level=level,
                category=category,
                check_stack=check,
                config_schema=dict(config_schema or {}),
                level_from_budget=level_from_budget,
            )
        )
        return check

    return wrap


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Verdict:
    """One violation, as plan.json records it."""

    id: str
    level: Level
    resource: str
    """URN of the resource, or `stack` for a finding about the stack as a whole."""
    message: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "level": self.level.value, "resource": self.resource, "message": self.message}


@dataclass
class Report:
    verdicts: list[Verdict]
    outcome: dict[str, str]
    """Per rule id: `passed`, `violated`, `disabled` or `not applicable: <reason>`."""
    levels: dict[str, Level]

    @property
    def mandatory(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.level is Level.MANDATORY]


def rule_settings(rule: Rule, pack_config: Mapping[str, Any] | None) -> tuple[Level | None, dict[str, Any]]:
    """A rule's level override and settings from a pack config (`--policy-pack-config` JSON)."""
    settings = rule.defaults()
    level: Level | None = None
    for key in ("all", rule.id):
        entry = (pack_config or {}).get(key)
        if isinstance(entry, str):
            level = Level(entry)
        elif isinstance(entry, Mapping):
            if "enforcementLevel" in entry:
                level = Level(entry["enforcementLevel"])
            if key == rule.id:
                settings.update({k: v for k, v in entry.items() if k != "enforcementLevel"})
    return level, settings


def evaluate(
    resources: Sequence[Resource],
    facts: StackFacts,
    pack_config: Mapping[str, Any] | None = None,
    rules: Sequence[Rule] | None = None,
) -> Report:
    """Every rule over every resource it applies to, and every stack rule over the stack."""
    verdicts: list[Verdict] = []
    outcome: dict[str, str] = {}
    levels: dict[str, Level] = {}
    for rule in RULES if rules is None else rules:
        override, settings = rule_settings(rule, pack_config)
        level = override or rule.level_for(facts)
        levels[rule.id] = level
        if level is Level.DISABLED:
            outcome[rule.id] = "disabled"
            continue
        found: list[Verdict] = []
        not_applicable: str | None = None
        if rule.check is not None:
            applicable = [r for r in resources if rule.applies_to(r.type)]
            judged = 0
            for resource in applicable:
                try:
                    found.extend(
                        Verdict(rule.id, level, resource.urn, m) for m in rule.check(resource, settings)
                    )
                    judged += 1
                except NotApplicable as exc:
                    not_applicable = not_applicable or exc.reason
            if not applicable:
                not_applicable = "no resource of the types it checks"
            elif judged:
                not_applicable = None
        elif rule.check_stack is not None:
            try:
                found.extend(
                    Verdict(rule.id, level, v.urn or "stack", v.message)
                    for v in rule.check_stack(resources, facts, settings)
                )
            except NotApplicable as exc:
                not_applicable = exc.reason
        verdicts.extend(found)
        if found:
            outcome[rule.id] = "violated"
        elif not_applicable:
            outcome[rule.id] = f"not applicable: {not_applicable}"
        else:
            outcome[rule.id] = "passed"
    return Report(verdicts, outcome, levels)
