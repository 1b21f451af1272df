"""The llmops policies as plain functions over resource inputs.

The CrossGuard pack (`policies/__main__.py`), `llmops plan` and the tests all evaluate
these same rules; see docs/policies.md for the list.
"""

from llmops.policies.rules import cost, reliability, security, workloads  # noqa: F401 - registers the rules
from llmops.policies.rules._base import (
    RULES,
    SECRET_MASK,
    UNKNOWN,
    Category,
    Level,
    NotApplicable,
    Report,
    Resource,
    Rule,
    StackFacts,
    Verdict,
    Violation,
    evaluate,
    rule_settings,
)

# Security first, then reliability, then cost; registration order within each.
RULES.sort(key=lambda rule: list(Category).index(rule.category))

__all__ = [
    "RULES",
    "SECRET_MASK",
    "UNKNOWN",
    "Category",
    "Level",
    "NotApplicable",
    "Report",
    "Resource",
    "Rule",
    "StackFacts",
    "Verdict",
    "Violation",
    "evaluate",
    "rule_by_id",
    "rule_settings",
]


def rule_by_id(rule_id: str) -> Rule:
    for rule in RULES:
        if rule.id == rule_id:
            return rule
    raise KeyError(rule_id)
