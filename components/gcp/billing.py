"""Current GCP GPU prices from the Cloud Billing Catalog API (`llmops prices refresh --cloud gcp`).

`GET {base}/v1/services/{COMPUTE_ENGINE}/skus?key=…&pageToken=…` lists every Compute Engine SKU,
page by page (`skus`, `nextPageToken`). A GPU machine is priced as Compute Engine bills it: the
host's vCPUs x its family's core SKU + its memory GiB x the family's RAM SKU + its GPUs x the
GPU SKU, each for on-demand (`usageType: OnDemand`) and spot (`usageType: Preemptible`) in the
region (`serviceRegions`). SKU descriptions follow GCP's published wording ("G2 Instance Core
running in Americas", "Nvidia L4 GPU running in Americas", "Spot Preemptible …"); a machine
whose SKUs are not all found is reported, never priced as zero.

Source: cloud.google.com/billing/docs/reference/rest/v1/services.skus/list and
cloud.google.com/billing/v1/how-tos/catalog-api. Standard library only (urllib).
"""

from __future__ import annotations

import datetime
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmops.components.capacity.catalog import InstancePrice
from llmops.components.gcp.machines import gpu_machine
from llmops.components.gcp.offerings import machine_shapes

BILLING_API = "https://cloudbilling.googleapis.com"
COMPUTE_ENGINE_SERVICE = "6F81-5844-456A"
"""The Compute Engine service id in the Cloud Billing catalog."""

# Family of the host's core and RAM SKUs, by machine-type prefix.
_HOST_SKU_FAMILY = {"g2": "G2", "a2": "A2", "a3": "A3", "n1": "N1 Predefined"}
# GPU names as the GPU SKUs spell them ("Nvidia Tesla T4 GPU running in …").
_GPU_SKU_NAME = {
    "L4": "L4",
    "T4": "Tesla T4",
    "V100": "Tesla V100",
    "A100": "Tesla A100",
    "A100-80GB": "Tesla A100 80GB",
    "H100": "H100 80GB",
    "H100-MEGA": "H100 80GB Mega",
    "H200": "H200 141GB",
}


class BillingApiError(RuntimeError):
    """The catalog API answered with an error or with something that is not its JSON."""


Fetch = Callable[[str], Mapping[str, Any]]


def _http_fetch(url: str) -> Mapping[str, Any]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise BillingApiError(f"Cloud Billing catalog API: HTTP {exc.code} for {url.split('?')[0]}") from None
    except (urllib.error.URLError, json.JSONDecodeError) as exc:
        raise BillingApiError(f"Cloud Billing catalog API: {exc}") from None


def list_skus(
    api_key: str, *, base_url: str = BILLING_API, fetch: Fetch = _http_fetch
) -> list[dict[str, Any]]:
    """Every Compute Engine SKU, following `nextPageToken` to the last page."""
    skus: list[dict[str, Any]] = []
    token = ""
    for _ in range(10_000):
        query = {"key": api_key, "currencyCode": "USD", "pageSize": "5000"}
        if token:
            query["pageToken"] = token
        page = fetch(f"{base_url}/v1/services/{COMPUTE_ENGINE_SERVICE}/skus?{urllib.parse.urlencode(query)}")
        if not isinstance(page.get("skus", []), list):
            raise BillingApiError("Cloud Billing catalog API: a page without a `skus` list")
        skus.extend(page.get("skus", []))
        token = str(page.get("nextPageToken") or "")
        if not token:
            return skus
    raise BillingApiError("Cloud Billing catalog API: more than 10,000 pages; stopping")


def unit_price(sku: Mapping[str, Any]) -> float | None:
    """USD per usage unit of the SKU's current list price (its first tier above zero usage)."""
    for info in sku.get("pricingInfo", [])[:1]:
        rates = info.get("pricingExpression", {}).get("tieredRates", [])
        if rates:
            money = rates[-1]["unitPrice"]
            return int(money.get("units") or 0) + int(money.get("nanos") or 0) / 1e9
    return None


@dataclass(frozen=True)
class _Key:
    kind: str  # core, ram, gpu
    name: str  # host family or GPU SKU name
    spot: bool
    region: str


_SKU_PATTERN = re.compile(
    r"^(?P<spot>Spot Preemptible )?"
    r"(?:(?P<family>.+?) Instance (?P<kind>Core|Ram)|Nvidia (?P<gpu>.+?) GPU) running in"
)


def index_skus(skus: Iterable[Mapping[str, Any]]) -> dict[_Key, float]:
    """Unit prices of the core, RAM and GPU SKUs, by family or GPU, purchase option and region."""
    prices: dict[_Key, float] = {}
    for sku in skus:
        usage = sku.get("category", {}).get("usageType")
        if usage not in ("OnDemand", "Preemptible"):
            continue  # commitments and reservations
        match = _SKU_PATTERN.match(sku.get("description", ""))
        price = unit_price(sku)
        if match is None or price is None:
            continue
        spot = usage == "Preemptible"
        if match.group("gpu"):
            kind, name = "gpu", match.group("gpu")
        else:
            kind, name = match.group("kind").lower(), match.group("family")
        for region in sku.get("serviceRegions", []):
            prices[_Key(kind, name, spot, region)] = price
    return prices


@dataclass(frozen=True)
class RefreshResult:
    rows: list[InstancePrice]
    missing: list[str]
    """`<instance type> in <region>: no <SKU> price` for what could not be priced."""


def price_rows(
    skus: Iterable[Mapping[str, Any]], regions: Sequence[str], instance_types: Sequence[str]
) -> RefreshResult:
    """Catalog rows (host + GPUs, on-demand and spot) for each instance type and region."""
    index = index_skus(skus)
    shapes = machine_shapes()
    today = datetime.date.today().isoformat()
    rows: list[InstancePrice] = []
    missing: list[str] = []
    for region in regions:
        for instance_type in instance_types:
            machine = gpu_machine(instance_type)
            family = _HOST_SKU_FAMILY[machine.family]
            vcpus, memory = shapes[machine.machine_type]
            gpu_name = _GPU_SKU_NAME[machine.gpu]
            totals: dict[bool, float | None] = {}
            for spot in (False, True):
                parts = {
                    f"{family} core": index.get(_Key("core", family, spot, region)),
                    f"{family} RAM": index.get(_Key("ram", family, spot, region)),
                    f"{gpu_name} GPU": index.get(_Key("gpu", gpu_name, spot, region)),
                }
                absent = [what for what, value in parts.items() if value is None]
                if absent:
                    option = "spot" if spot else "on-demand"
                    missing.append(f"{instance_type} in {region}: no {option} {', '.join(absent)} price")
                    totals[spot] = None
                    continue
                core, ram, gpu = (float(v or 0.0) for v in parts.values())
                totals[spot] = round(vcpus * core + memory * ram + machine.gpu_count * gpu, 5)
            if totals[False] is None and totals[True] is None:
                continue
            rows.append(
                InstancePrice(
                    cloud="gcp",
                    region=region,
                    instance_type=instance_type,
                    gpu=machine.gpu,
                    gpu_count=machine.gpu_count,
                    on_demand_usd_per_h=totals[False],
                    spot_usd_per_h=totals[True],
                    source=f"Cloud Billing catalog API, Compute Engine SKUs ({vcpus:g} vCPU x {family} core "
                    f"+ {memory:g} GiB x {family} RAM + {machine.gpu_count} x {gpu_name} GPU)",
                    as_of=today,
                )
            )
    return RefreshResult(rows, missing)


def refresh_prices(
    regions: Sequence[str],
    instance_types: Sequence[str],
    api_key: str,
    *,
    base_url: str = BILLING_API,
    fetch: Fetch = _http_fetch,
) -> RefreshResult:
    return price_rows(list_skus(api_key, base_url=base_url, fetch=fetch), regions, instance_types)
