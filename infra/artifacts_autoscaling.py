"""The plan's autoscaling table: per model its bounds, triggers and ceiling cost."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def render_autoscaling(cost: dict[str, Any], console: Console) -> None:
    table = Table(title="autoscaling (KEDA; ceiling: max replicas all month, dearest pools first)")
    for column in ("model", "min", "max", "target", "batch", "triggers", "ceiling $/month"):
        table.add_column(column, justify="right" if column in ("min", "max", "target", "batch") else "left")
    for name, entry in cost["autoscaling"].items():
        ceiling = entry.get("ceiling_monthly_usd")
        where = f" ({entry['ceiling_pool']})" if entry.get("ceiling_pool") else ""
        table.add_row(
            name,
            str(entry["min_replicas"]),
            str(entry["max_replicas"]),
            f"{entry['target']:g}",
            str(entry.get("working_batch") or "-"),
            escape(", ".join(entry["triggers"])),
            f"{ceiling:,.2f}{escape(where)}" if ceiling is not None else "not priced",
        )
    console.print(table)
    total = cost.get("autoscaled_ceiling_monthly_usd")
    if total is not None:
        console.print(f"with every autoscaled model at its max: ${total:,.2f} a month")
