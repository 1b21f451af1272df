"""`llmops prices refresh --cloud gcp`: current prices from the Cloud Billing Catalog API.

The API takes an API key (`GOOGLE_API_KEY`; create one restricted to the Cloud Billing API).
`LLMOPS_GCP_BILLING_URL` points the command at another endpoint (a proxy, or a local fake in
the tests).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import typer

from components.capacity.catalog import load_catalog, write_prices


def refresh_gcp(
    regions: Sequence[str] | None,
    instance_types: Sequence[str] | None,
    output: Path,
    fail: Callable[[str], typer.Exit],
) -> None:
    from components.gcp.billing import BILLING_API, BillingApiError, refresh_prices
    from components.gcp.machines import MachineTypeError, gpu_machine

    api_key = os.environ.get("GOOGLE_API_KEY", "")
    if not api_key:
        raise fail(
            "no GOOGLE_API_KEY in the environment; create an API key for the Cloud Billing API "
            "(gcloud services api-keys create) and export it"
        )
    regions = list(regions or ["us-central1"])
    if instance_types:
        for instance_type in instance_types:
            try:
                gpu_machine(instance_type)
            except MachineTypeError as exc:
                raise fail(f"--instance-type {instance_type!r} {exc}") from None
        types = list(instance_types)
    else:
        types = sorted({row.instance_type for row in load_catalog().prices if row.cloud == "gcp"})
    try:
        result = refresh_prices(
            regions, types, api_key, base_url=os.environ.get("LLMOPS_GCP_BILLING_URL", BILLING_API)
        )
    except BillingApiError as exc:
        raise fail(str(exc)) from None
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(write_prices(result.rows))
    for row in result.rows:
        spot = "-" if row.spot_usd_per_h is None else f"{row.spot_usd_per_h:.4f}"
        on_demand = "-" if row.on_demand_usd_per_h is None else f"{row.on_demand_usd_per_h:.4f}"
        typer.echo(f"{row.region:<16}{row.instance_type:<22}{on_demand:>10}{spot:>10}")
    for line in result.missing:
        typer.echo(f"not priced: {line}", err=True)
    typer.echo(f"wrote {len(result.rows)} rows to {output}")
