"""The `llmops` command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from infra.config import ConfigError, K3sClusterConfig, StackNotFoundError, read_stack_file

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
            help="check instance offerings, spot prices and the GPU image in the AWS account; "
            "default: when AWS_ACCESS_KEY_ID or AWS_PROFILE is set",
        ),
    ] = None,
) -> None:
    """Run the stack's program offline under Pulumi's mock engine: resources, manifests, outputs."""
    from components.capacity import CostInputError
    from infra import artifacts, costing
    from infra.plan import dumps, run_plan

    try:
        root = find_project_dir(project_dir)
        raw = read_stack_file(root / "stacks", stack)
        result = run_plan(raw, stack, preview=preview)
        cluster = result.config.cluster
        cloud = cluster.cloud.value if isinstance(cluster, K3sClusterConfig) else "aws"
        region_value = raw.other.get(f"{cloud}:region")
        region = region_value if isinstance(region_value, str) else None
        checks = None
        if preflight if preflight is not None else costing.aws_preflight_wanted(result.config, os.environ):
            checks = costing.aws_preflight(result.config, region or "us-east-1")
        spot = checks["spot_usd_per_h"] if checks else None
        estimate = costing.estimate(result.config, region, spot)
    except (StackNotFoundError, ConfigError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None
    except CostInputError as exc:
        raise _fail("cannot price the stack's pools:\n  - " + "\n  - ".join(exc.problems)) from None

    extra: dict[str, object] = {"cost": estimate.cost, "fit": estimate.fit, "budget": estimate.budget}
    if checks is not None:
        extra["preflight"] = checks
    out_dir = out if out.is_absolute() else Path.cwd() / out
    target = artifacts.write(result, out_dir, extra)
    if as_json:
        sys.stdout.write(dumps(result.to_json() | extra))
    else:
        console = Console()
        artifacts.render(result, console)
        artifacts.render_estimate(estimate, console)
        if checks is not None:
            artifacts.render_preflight(checks, console)
        console.print(f"wrote [bold]{target / 'plan.json'}[/bold] and {target / 'manifests'}/")
    if estimate.over_mandatory_budget:
        budget = estimate.budget
        raise _fail(
            f"budget.monthlyUsd: the estimate ${budget['estimate_usd']:,.2f} is over the mandatory "
            f"budget ${budget['monthly_usd']:,.2f}. Fix: shrink pools or schedules, use spot, "
            "or raise the budget"
        )


def _register_capacity_commands() -> None:
    from infra import cli_capacity

    cli_capacity.register(app)


_register_capacity_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
