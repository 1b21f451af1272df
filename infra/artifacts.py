"""What `llmops plan` writes and prints: plan.json, one manifest per Kubernetes object, a tree."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from llmops.infra.atomic_dir import replace_dir
from llmops.infra.plan import SECRET_MASK, Plan, PlannedResource, dumps
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

if TYPE_CHECKING:
    from llmops.infra.costing import StackEstimate

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
_K8S_TYPE = re.compile(r"^kubernetes:(?P<group>[^:]+)/(?P<version>[^:/]+):(?P<kind>\w+)$")
# Kubernetes resources that are not single objects (the provider, chart wrappers, yaml groups).
_NOT_OBJECTS = re.compile(r"^kubernetes:(helm\.sh/v\d:Chart|yaml(/v2)?:|kustomize)")


def manifests(plan: Plan) -> dict[str, dict[str, Any]]:
    """File name -> document: each Kubernetes object; each Helm release as chart, repo, version, values."""
    files: dict[str, dict[str, Any]] = {}
    for resource in plan.resources:
        document = manifest_of(resource)
        if document is None:
            continue
        kind = str(document.get("kind", "Object")).lower()
        meta = document.get("metadata") or {}
        namespace = meta.get("namespace") or "_cluster"
        name = meta.get("name") or resource.name
        files[_safe(f"{kind}.{namespace}.{name}.yaml")] = document
    return files


def manifest_of(resource: PlannedResource) -> dict[str, Any] | None:
    if (
        not resource.custom
        or resource.type.startswith("pulumi:providers:")
        or _NOT_OBJECTS.match(resource.type)
    ):
        return None
    inputs = resource.inputs
    if resource.type == HELM_RELEASE:
        chart = inputs.get("chart") or ""
        # An OCI chart is its own reference (`oci://registry/path/name`); its repository is the path.
        repo = (inputs.get("repositoryOpts") or {}).get("repo") or (
            chart.rsplit("/", 1)[0] if chart.startswith("oci://") else None
        )
        return {
            "apiVersion": "llmops.io/helm-release",
            "kind": "HelmRelease",
            "metadata": {"name": inputs.get("name", resource.name), "namespace": inputs.get("namespace")},
            "chart": chart,
            "repo": repo,
            "version": inputs.get("version"),
            "values": inputs.get("values") or {},
        }
    match = _K8S_TYPE.match(resource.type)
    if match is None:
        return None
    group, version, kind = match["group"], match["version"], match["kind"]
    document: dict[str, Any] = {
        "apiVersion": inputs.get("apiVersion", version if group == "core" else f"{group}/{version}"),
        "kind": inputs.get("kind", kind),
    }
    document.update({k: v for k, v in inputs.items() if not k.startswith("__") and k not in document})
    if kind == "Secret":
        for key in ("data", "stringData"):
            # Mask each value, never iterate a value that is already the mask string.
            if isinstance(document.get(key), dict):
                document[key] = {k: SECRET_MASK for k in document[key]}
    return document


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
"""libyaml's safe dumper where PyYAML was built with it (the same documents, several times faster)."""


def write(plan: Plan, out_dir: Path, extra: dict[str, Any] | None = None) -> Path:
    """Write <out>/<stack>/plan.json and manifests/ atomically: all of it, or the old files untouched."""
    target = out_dir / plan.stack
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{plan.stack}-", dir=out_dir))
    try:
        data = plan.to_json()
        if extra:
            data.update(extra)
        (staging / "plan.json").write_text(dumps(data))
        manifest_dir = staging / "manifests"
        manifest_dir.mkdir()
        for file_name, document in manifests(plan).items():
            (manifest_dir / file_name).write_text(yaml.dump(document, Dumper=_DUMPER, sort_keys=False))
        # One atomic swap: a kill at any moment leaves the old folder or the new one, never none.
        replace_dir(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def render(plan: Plan, console: Console) -> None:
    """The resource tree (components with their children), then counts per package and type."""
    children: dict[str | None, list[PlannedResource]] = {}
    known = {r.urn for r in plan.resources}
    for resource in plan.resources:
        parent = resource.parent if resource.parent in known else None
        children.setdefault(parent, []).append(resource)

    title = f"[bold]llmops plan[/bold] stack [cyan]{plan.stack}[/cyan]" + (
        " (preview: unknowns)" if plan.preview else ""
    )
    tree = Tree(title)

    def add(node: Tree, resource: PlannedResource) -> None:
        style = "bold" if not resource.custom else ""
        label = (
            f"[{style}]{resource.name}[/{style}] [dim]{resource.type}[/dim]"
            if style
            else (f"{resource.name} [dim]{resource.type}[/dim]")
        )
        if not resource.custom and resource.depends_on:
            # What `pulumi up` creates before this component (e.g. the GPU operator before a model).
            after = ", ".join(urn.rsplit("::", 1)[-1] for urn in resource.depends_on)
            label += f" [yellow]after {escape(after)}[/yellow]"
        branch = node.add(label)
        for child in children.get(resource.urn, []):
            add(branch, child)

    for resource in children.get(None, []):
        add(tree, resource)
    console.print(tree)

    table = Table(title="resources", show_lines=False)
    table.add_column("package")
    table.add_column("type")
    table.add_column("count", justify="right")
    for type_token, count in plan.by_type().items():
        package = type_token.removeprefix("pulumi:providers:").split(":", 1)[0]
        table.add_row(package, type_token, str(count))
    table.add_row("[bold]total[/bold]", "", f"[bold]{len(plan.resources)}[/bold]")
    console.print(table)
    if plan.outputs:
        outputs = Table(title="stack outputs")
        outputs.add_column("name")
        outputs.add_column("value")
        for key, value in plan.outputs.items():
            # Values such as "[secret]" are text, not rich markup.
            outputs.add_row(key, escape(value if isinstance(value, str) else dumps(value).strip()))
        console.print(outputs)


def render_estimate(estimate: StackEstimate, console: Console) -> None:
    """Monthly cost per pool, fit per model, and the budget verdict."""
    cost = estimate.cost
    if not cost["per_pool"]:
        console.print(f"monthly cost: none priced — {escape(cost.get('note', 'the stack has no pools'))}")
    else:
        _render_cost_table(cost, console)
    _render_fit(estimate, console)
    if cost.get("autoscaling"):
        from llmops.infra.artifacts_autoscaling import render_autoscaling

        render_autoscaling(cost, console)
    _render_budget(estimate, console)


def _render_cost_table(cost: dict[str, Any], console: Console) -> None:
    regions = ", ".join(sorted({line["region"] for line in cost["per_pool"].values()})) or "-"
    table = Table(title=f"monthly cost in {regions} (30-day month, planned sizes and schedules)")
    for column in ("pool", "instance", "capacity", "GPU-hours", "on-demand $", "spot $", "total $"):
        table.add_column(column, justify="right" if column.endswith(("$", "hours")) else "left")
    for name, line in cost["per_pool"].items():
        table.add_row(
            name,
            line["instance_type"],
            line["capacity"],
            f"{line['gpu_hours']:,.0f}",
            f"{line['on_demand_usd']:,.2f}",
            f"{line['spot_usd']:,.2f}",
            f"{line['monthly_usd']:,.2f}",
        )
    store = cost.get("model_store")
    if store:
        # The store's own line: it is in the stack's total (and every ceiling) below.
        size = f" {store['provisioned_gib']:,.0f} GiB" if "provisioned_gib" in store else ""
        table.add_row("model store", f"{store['kind']}{size}", "", "", "", "", f"{store['monthly_usd']:,.2f}")
    table.add_row(
        "[bold]stack[/bold]",
        "",
        "",
        "",
        f"{cost['on_demand_usd']:,.2f}",
        f"{cost['spot_usd']:,.2f}",
        f"[bold]{cost['monthly_usd']:,.2f}[/bold]",
    )
    console.print(table)
    addresses = cost.get("node_addresses")
    if addresses:
        console.print(
            f"static node addresses (pools span clouds): {addresses['addresses']} public IPv4 at "
            f"${addresses['usdPerHour']:,.3f}/h = ${addresses['usdPerMonth']:,.2f} a month, in the totals"
        )
        for row in addresses["rows"]:
            price = row["usdPerAddressHour"]
            console.print(
                f"  {escape(row['group'])} ({row['cloud']}): {row['addresses']} x ${price}/h "
                f"[dim]({escape(row['source'])})[/dim]"
            )
    console.print(f"every pool at its max size all month: ${cost['ceiling_monthly_usd']:,.2f}")
    for warning in cost.get("warnings", []):
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}")


def _render_fit(estimate: StackEstimate, console: Console) -> None:
    fits = Table(title="model fit")
    for column in ("model", "GPU x TP", "verdict"):
        fits.add_column(column)
    for name, verdict in estimate.fit.items():
        if not verdict.get("checked"):
            fits.add_row(name, "-", f"[dim]not checked: {escape(verdict['message'])}[/dim]")
            continue
        mark = "[green]fits[/green]" if verdict["fits"] else "[red]does not fit[/red]"
        fits.add_row(
            name, f"{verdict['gpu']} x {verdict['tensor_parallel']}", f"{mark}: {escape(verdict['message'])}"
        )
    console.print(fits)


def _render_budget(estimate: StackEstimate, console: Console) -> None:
    budget = estimate.budget
    if budget["verdict"] == "none":
        console.print("budget: none set (llmops:budget.monthlyUsd)")
    else:
        colour = "green" if budget["verdict"] == "within" else "red"
        checked = budget.get("checked", "estimate")
        console.print(
            f"budget: [{colour}]{budget['verdict']}[/{colour}] — {checked} "
            f"${budget.get('checked_usd', budget['estimate_usd']):,.2f} "
            f"of ${budget['monthly_usd']:,.2f} ({budget['enforcement']})"
        )


def render_preflight(checks: dict[str, Any], console: Console) -> None:
    """What the cloud account says about the stack's machines."""
    zones = checks.get("offered_zones", {})
    spot = checks.get("spot_usd_per_h", {})
    table = Table(title=f"{checks.get('cloud', 'cloud')} preflight in {checks.get('region')}")
    for column in ("instance type", "offered in", "spot $/h now"):
        table.add_column(column)
    for instance_type in sorted(set(zones) | set(spot)):
        price = spot.get(instance_type)
        table.add_row(
            instance_type, ", ".join(zones.get(instance_type, [])) or "-", f"{price:.4f}" if price else "-"
        )
    console.print(table)
    console.print(f"GPU image (DLAMI): {checks.get('dlami_ami_id') or '-'}")
    for problem in checks.get("problems", []):
        console.print(f"[red]preflight:[/red] {escape(problem)}")
