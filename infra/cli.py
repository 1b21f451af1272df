"""The `llmops` command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from llmops.infra.config import ConfigError, StackNotFoundError, read_stack_file
from rich.console import Console

if TYPE_CHECKING:
    from llmops.infra.costing import StackEstimate
    from llmops.policies.rules import Report

app = typer.Typer(
    name="llmops",
    help="Cost-efficient LLM serving on GPU clouds: offline plans, cost and fit, trace replays.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_BAD_INPUT = 2


@app.callback()
def _root() -> None:
    """Cost-efficient LLM serving on GPU clouds."""


def find_project_dir(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` holding the llmops Pulumi.yaml; else the package's checkout."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "Pulumi.yaml").is_file() and (candidate / "stacks").is_dir():
            return candidate
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "Pulumi.yaml").is_file():
        return checkout
    raise FileNotFoundError(
        f"no llmops project (Pulumi.yaml with a stacks/ folder) at or above {here}. "
        "Fix: run llmops from the project folder, or pass --project-dir"
    )


def _fail(message: str) -> typer.Exit:
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[red]error:[/red] {message}", markup=True)
    return typer.Exit(EXIT_BAD_INPUT)


@app.command()
def plan(
    stack: Annotated[
        str, typer.Option("--stack", "-s", help="stack name: stacks/Pulumi.<stack>.yaml")
    ] = "local",
    out: Annotated[Path, typer.Option("--out", help="output folder; writes <out>/<stack>/")] = Path("build"),
    as_json: Annotated[
        bool, typer.Option("--json", help="print plan.json to stdout instead of the tree")
    ] = False,
    preview: Annotated[
        bool,
        typer.Option("--preview", help="leave provider-computed values unknown, as `pulumi preview` does"),
    ] = False,
    project_dir: Annotated[
        Path | None, typer.Option("--project-dir", help="llmops project folder; default: found from here")
    ] = None,
    preflight: Annotated[
        bool | None,
        typer.Option(
            "--preflight/--no-preflight",
            help="check instance offerings, spot prices and the GPU image in the cloud account; "
            "default: when the shell names the cloud's credentials (e.g. a profile or access key)",
        ),
    ] = None,
    compare: Annotated[
        Path | None,
        typer.Option("--compare", help="an earlier plan.json (or --out folder): print what changed since"),
    ] = None,
    policy_config: Annotated[
        Path | None,
        typer.Option(
            "--policy-config",
            help="policy pack config (the JSON `pulumi preview --policy-pack-config` takes); "
            "default: policies/shipped.json",
        ),
    ] = None,
) -> None:
    """Run the stack's program offline under Pulumi's mock engine: resources, manifests, outputs."""
    from llmops.components.capacity import CostInputError
    from llmops.infra import artifacts, costing, policy_check
    from llmops.infra.plan import dumps, run_plan

    try:
        root = find_project_dir(project_dir)
        raw = read_stack_file(root / "stacks", stack)
        result = run_plan(raw, stack, preview=preview)
        region = costing.stack_region(result.config, raw.other)
        checks = None
        if preflight if preflight is not None else costing.preflight_wanted(result.config, os.environ):
            checks = costing.preflight(result.config, raw.other)
        spot = checks["spot_usd_per_h"] if checks else None
        regions = costing.cloud_regions(result.config, raw.other)
        estimate = costing.estimate(result.config, region, spot, regions)
        report = policy_check.check(result, region, estimate, policy_check.load_pack_config(policy_config))
    except (StackNotFoundError, ConfigError, FileNotFoundError, policy_check.PolicyConfigError) as exc:
        raise _fail(str(exc)) from None
    except CostInputError as exc:
        raise _fail("cannot price the stack's pools:\n  - " + "\n  - ".join(exc.problems)) from None

    extra: dict[str, object] = {
        "cost": estimate.cost,
        "fit": estimate.fit,
        "budget": estimate.budget,
        "policies": policy_check.to_json(report),
    }
    if checks is not None:
        extra["preflight"] = checks
    # A mandatory check that fails leaves the previous plan output as it was, like a config error.
    blocking = blocking_failures(estimate, report)
    console = Console()
    if compare is not None:
        from llmops.infra import cli_diff

        # Read before writing: the earlier plan may be the very file this run replaces.
        cli_diff.compare(compare, result.to_json() | extra, Console(stderr=as_json))
    if as_json:
        # Printed even when a check fails: CI diffs a failing plan too.
        sys.stdout.write(dumps(result.to_json() | extra))
    else:
        artifacts.render(result, console)
        artifacts.render_estimate(estimate, console)
        if checks is not None:
            artifacts.render_preflight(checks, console)
    if not as_json or blocking:
        policy_check.render(report, Console(stderr=as_json))
    if blocking:
        raise _fail("\n  - ".join(["mandatory checks failed; nothing was written:", *blocking]))
    out_dir = out if out.is_absolute() else Path.cwd() / out
    target = artifacts.write(result, out_dir, extra)
    if not as_json:
        console.print(f"wrote [bold]{target / 'plan.json'}[/bold] and {target / 'manifests'}/")


def blocking_failures(estimate: StackEstimate, report: Report) -> list[str]:
    """Mandatory checks that fail the plan before anything is written: the budget, then the policies."""
    from llmops.infra import policy_check

    failures = []
    if estimate.over_mandatory_budget:
        budget = estimate.budget
        checked = budget.get("checked", "estimate")
        fix = (
            "lower the models' autoscaling.maxReplicas, use spot, or raise the budget"
            if checked == "autoscaled ceiling"
            else "shrink pools or schedules, use spot, or raise the budget"
        )
        failures.append(
            f"budget.monthlyUsd: the {checked} ${budget.get('checked_usd', budget['estimate_usd']):,.2f} "
            f"is over the mandatory budget ${budget['monthly_usd']:,.2f}. Fix: {fix}"
        )
    failures.extend(
        f"policy {v.id}: {v.message}. Fix: {policy_check.remediation(v.id)}"
        for v in report.mandatory
        # the budget line above already says it
        if not (estimate.over_mandatory_budget and v.id == "budget-monthly")
    )
    return failures


def _register_capacity_commands() -> None:
    from llmops.infra import cli_capacity, cli_diff

    cli_capacity.register(app)
    cli_diff.register(app)


_register_capacity_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
