"""LLM and cost: each model fits its GPU, and the stack's monthly cost and autoscaled ceiling stay
within its budget (mandatory when the budget says so)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from llmops.policies.rules._base import (
    Category,
    Level,
    NotApplicable,
    Resource,
    StackFacts,
    Violation,
    stack_rule,
)


@stack_rule(
    "model-fits-gpu",
    description="Every model's weights and KV cache for its context fit the GPU memory of its pool at its "
    "tensor-parallel size (capacity model).",
    remediation="Raise tensorParallelSize, pick a larger GPU, quantize, or lower maxModelLen.",
    level=Level.MANDATORY,
    category=Category.COST,
)
def model_fits_gpu(_: Sequence[Resource], facts: StackFacts, __: Mapping[str, Any]) -> Iterator[Violation]:
    fits = facts.cost().fit
    if not any(v.get("checked") for v in fits.values()):
        raise NotApplicable("no model has a GPU type in the capacity catalog")
    for name, verdict in fits.items():
        if verdict.get("checked") and not verdict.get("fits"):
            yield Violation(f"model {name}: {verdict.get('message')}")


def _budget(facts: StackFacts) -> float:
    if facts.config is None:
        raise NotApplicable("the stack's config is not available to the policy pack")
    if facts.config.budget.monthly_usd is None:
        raise NotApplicable("the stack sets no budget (llmops:budget.monthlyUsd)")
    return facts.config.budget.monthly_usd


@stack_rule(
    "budget-monthly",
    description="The stack's expected monthly cost (planned sizes and schedules) is within its budget; "
    "mandatory when llmops:budget.enforcement is mandatory.",
    remediation="Shrink pools or schedules, use spot, or raise llmops:budget.monthlyUsd.",
    level=Level.ADVISORY,
    category=Category.COST,
    level_from_budget=True,
)
def budget_monthly(_: Sequence[Resource], facts: StackFacts, __: Mapping[str, Any]) -> Iterator[Violation]:
    budget = _budget(facts)
    cost = facts.cost().cost
    if cost["monthly_usd"] > budget:
        yield Violation(
            f"budget.monthlyUsd: the estimate ${cost['monthly_usd']:,.2f} "
            f"a month is over the budget ${budget:,.2f}"
        )


@stack_rule(
    "budget-ceiling",
    description="The stack's autoscaled ceiling (every pool at its max all month) is within its budget; "
    "mandatory when llmops:budget.enforcement is mandatory.",
    remediation="Lower the pools' max, or raise llmops:budget.monthlyUsd to what the autoscalers may spend.",
    level=Level.ADVISORY,
    category=Category.COST,
    level_from_budget=True,
)
def budget_ceiling(_: Sequence[Resource], facts: StackFacts, __: Mapping[str, Any]) -> Iterator[Violation]:
    budget = _budget(facts)
    cost = facts.cost().cost
    if cost["ceiling_monthly_usd"] > budget:
        yield Violation(
            "budget.monthlyUsd: every pool at its max costs "
            f"${cost['ceiling_monthly_usd']:,.2f} a month, over "
            f"the budget ${budget:,.2f}"
        )
