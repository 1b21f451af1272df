"""Prices from the Azure Retail Prices API (public, no credentials): Linux pay-as-you-go and Spot.

`GET https://prices.azure.com/api/retail/prices?$filter=...` answers pages of JSON
(`Items`, `NextPageLink`); every page is followed. Standard library only.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from llmops.components.azure.machines import CLOUD, gpu_machines
from llmops.components.capacity.catalog import Catalog, InstancePrice, load_catalog

RETAIL_PRICES_URL = "https://prices.azure.com/api/retail/prices"
MAX_PAGES = 200
"""A runaway `NextPageLink` chain stops here (a region's GPU rows fit in a handful of pages)."""

Fetch = Callable[[str], Mapping[str, Any]]


def _fetch_json(url: str) -> Mapping[str, Any]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def retail_filter(region: str, sizes: Sequence[str]) -> str:
    skus = " or ".join(f"armSkuName eq '{size}'" for size in sizes)
    return (
        f"serviceName eq 'Virtual Machines' and priceType eq 'Consumption' and armRegionName eq '{region}'"
        f" and ({skus})"
    )


def items(base_url: str, query: str, fetch: Fetch = _fetch_json) -> Iterator[Mapping[str, Any]]:
    """Every item of every page, following `NextPageLink`."""
    url: str | None = f"{base_url}?{urllib.parse.urlencode({'$filter': query})}"
    for _ in range(MAX_PAGES):
        if not url:
            return
        page = fetch(url)
        yield from page.get("Items", [])
        url = page.get("NextPageLink")
    raise ValueError(f"the Retail Prices API gave more than {MAX_PAGES} pages; narrow the query")


def linux_prices(rows: Iterable[Mapping[str, Any]]) -> dict[str, tuple[float | None, float | None]]:
    """armSkuName -> (pay-as-you-go, Spot) USD per hour, Linux only (Windows and Low Priority skipped)."""
    found: dict[str, dict[str, float]] = {}
    for row in rows:
        if row.get("currencyCode", "USD") != "USD" or row.get("unitOfMeasure") != "1 Hour":
            continue
        if row.get("type", "Consumption") != "Consumption" or row.get("isPrimaryMeterRegion") is False:
            continue
        if str(row.get("productName", "")).endswith("Windows"):
            continue
        meter = f"{row.get('skuName', '')} {row.get('meterName', '')}"
        if "Low Priority" in meter:
            continue
        kind = "spot" if "Spot" in meter else "on_demand"
        found.setdefault(str(row["armSkuName"]), {})[kind] = float(row["retailPrice"])
    return {sku: (kinds.get("on_demand"), kinds.get("spot")) for sku, kinds in found.items()}


def refresh_prices(
    regions: Sequence[str],
    instance_types: Iterable[str] | None = None,
    *,
    base_url: str = RETAIL_PRICES_URL,
    fetch: Fetch = _fetch_json,
    catalog: Catalog | None = None,
    today: dt.date | None = None,
) -> list[InstancePrice]:
    """Catalog rows for `regions` with both prices from the Retail Prices API.

    Without `instance_types`, every supported size the catalog knows is asked for.
    """
    catalog = catalog or load_catalog()
    machines = gpu_machines()
    wanted = sorted(set(instance_types) if instance_types is not None else set(machines))
    unknown = [name for name in wanted if name not in machines]
    if unknown:
        raise ValueError(
            f"VM size(s) {', '.join(unknown)} are not GPU sizes the catalog knows; "
            f"known: {', '.join(machines)}"
        )
    stamp = (today or dt.datetime.now(dt.UTC).date()).isoformat()
    known = {(row.region, row.instance_type): row for row in catalog.prices if row.cloud == CLOUD}
    rows: list[InstancePrice] = []
    for region in regions:
        prices = linux_prices(items(base_url, retail_filter(region, wanted), fetch))
        for size in wanted:
            on_demand, spot = prices.get(size, (None, None))
            if on_demand is None and spot is None:
                continue  # not offered in this region
            machine = machines[size]
            base = known.get((region, size)) or InstancePrice(
                cloud=CLOUD,
                region=region,
                instance_type=size,
                gpu=machine.gpu,
                gpu_count=machine.gpu_count,
                on_demand_usd_per_h=None,
                spot_usd_per_h=None,
                source="",
                as_of=stamp,
            )
            rows.append(
                replace(
                    base,
                    on_demand_usd_per_h=on_demand,
                    spot_usd_per_h=spot,
                    source=f"prices.azure.com/api/retail/prices, Linux, {region}, pay-as-you-go and Spot",
                    as_of=stamp,
                )
            )
    return rows
