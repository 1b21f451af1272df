"""`llmops diff BEFORE AFTER`: what a change does to the stacks' resources, cost and policy verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from llmops.infra import plandiff
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def register(app: typer.Typer) -> None:
    app.command(name="diff")(diff)


def diff(
    before: Annotated[
        Path, typer.Argument(help="the old plan: a plan.json, or an `llmops plan --out` folder")
    ],
    after: Annotated[Path, typer.Argument(help="the new plan, in the same form")],
    markdown: Annotated[
        Path | None,
        typer.Option("--markdown", help="also write the diff as Markdown (a pull-request comment)"),
    ] = None,
    title: Annotated[str, typer.Option("--title", help="heading of the Markdown")] = (
        "llmops plan: what this change does"
    ),
) -> None:
    """Resources added, removed and changed (by URN), monthly cost per pool and model, policy verdicts."""
    from llmops.infra.cli import _fail

    try:
        diffs = plandiff.diff_plans(plandiff.load_plans(before), plandiff.load_plans(after))
    except plandiff.PlanFileError as exc:
        raise _fail(str(exc)) from None
    console = Console()
    for stack_diff in diffs:
        render(stack_diff, console)
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(plandiff.markdown(diffs, title))
        console.print(f"wrote [bold]{markdown}[/bold]")


def compare(before: Path, after: dict[str, Any], console: Console) -> None:
    """`llmops plan --compare`: this plan against an earlier one of the same stack."""
    from llmops.infra.cli import _fail

    try:
        earlier = plandiff.load_plans(before)
    except plandiff.PlanFileError as exc:
        raise _fail(str(exc)) from None
    stack = str(after["stack"])
    render(plandiff.diff_stack(stack, earlier.get(stack), after), console)


def render(diff: plandiff.StackDiff, console: Console) -> None:
    status = "" if diff.status == "changed" else f" ({diff.status})"
    console.print(f"[bold]stack {escape(diff.stack)}[/bold]{status}")
    if diff.empty:
        console.print("  no change")
        return
    if diff.resources:
        table = Table(title="resources")
        for column in ("", "resource", "type", "changed inputs"):
            table.add_column(column)
        for change in diff.resources:
            keys = ", ".join(change.keys[: plandiff.MAX_CHANGED_KEYS])
            if len(change.keys) > plandiff.MAX_CHANGED_KEYS:
                keys += f" and {len(change.keys) - plandiff.MAX_CHANGED_KEYS} more"
            table.add_row(
                plandiff._RESOURCE_MARK[change.kind], escape(change.name), change.type, escape(keys)
            )
        console.print(table)
    cost = Table(title="monthly cost")
    for column in ("", "before", "after", "change"):
        cost.add_column(column, justify="left" if not column else "right")
    for line in [*diff.pools, *diff.models]:
        if not line.before and not line.after:
            continue
        cost.add_row(
            escape(line.name),
            plandiff.money(line.before),
            plandiff.money(line.after),
            plandiff.signed(line.delta),
        )
    for line, label in ((diff.total, "stack"), (diff.ceiling, "every pool at its max")):
        cost.add_row(
            f"[bold]{label}[/bold]",
            plandiff.money(line.before),
            plandiff.money(line.after),
            plandiff.signed(line.delta),
        )
    console.print(cost)
    if diff.policies:
        verdicts = Table(title="policy verdicts that changed")
        for column in ("", "level", "policy", "finding"):
            verdicts.add_column(column)
        for change in diff.policies:
            level = (
                f"{change.level_before} -> {change.level_after}"
                if change.level_before and change.level_after and change.level_before != change.level_after
                else str(change.level_after or change.level_before)
            )
            verdicts.add_row(change.kind, level, change.id, escape(change.message))
        console.print(verdicts)
