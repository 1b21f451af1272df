"""Live AWS look-ups: spot prices, instance-type offerings per zone, the DLAMI SSM parameter.

Used by `llmops prices refresh --cloud aws` and by the plan's preflight when credentials exist.
boto3 is imported lazily so the capacity model itself needs no AWS SDK.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from llmops.components.capacity.catalog import Catalog, InstancePrice, load_catalog

# AWS Deep Learning Base OSS AMI with the NVIDIA driver preinstalled (Ubuntu 22.04), as published in SSM.
DLAMI_PARAMETER = "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"
SPOT_PRODUCT = "Linux/UNIX"


def _session(session: Any | None) -> Any:
    if session is not None:
        return session
    try:
        import boto3.session
    except ImportError as exc:  # pragma: no cover - boto3 ships with the dev extra
        raise RuntimeError("AWS look-ups need boto3: pip install boto3") from exc
    return boto3.session.Session()


def spot_prices(ec2: Any, instance_types: Sequence[str]) -> dict[str, dict[str, float]]:
    """instance type -> zone -> the latest Linux spot price ($/h) the region reports."""
    latest: dict[tuple[str, str], tuple[dt.datetime, float]] = {}
    paginator = ec2.get_paginator("describe_spot_price_history")
    pages = paginator.paginate(
        InstanceTypes=list(instance_types),
        ProductDescriptions=[SPOT_PRODUCT],
        # A start time of now returns the price in force now for every zone.
        StartTime=dt.datetime.now(dt.UTC),
    )
    for page in pages:
        for item in page.get("SpotPriceHistory", []):
            key = (item["InstanceType"], item["AvailabilityZone"])
            stamp = item["Timestamp"]
            if key not in latest or stamp > latest[key][0]:
                latest[key] = (stamp, float(item["SpotPrice"]))
    out: dict[str, dict[str, float]] = {}
    for (instance_type, zone), (_, price) in sorted(latest.items()):
        out.setdefault(instance_type, {})[zone] = price
    return out


def instance_offerings(ec2: Any, instance_types: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """instance type -> zones of the client's region that offer it (absent types are not offered)."""
    zones: dict[str, set[str]] = {}
    paginator = ec2.get_paginator("describe_instance_type_offerings")
    pages = paginator.paginate(
        LocationType="availability-zone",
        Filters=[{"Name": "instance-type", "Values": list(instance_types)}],
    )
    for page in pages:
        for item in page.get("InstanceTypeOfferings", []):
            zones.setdefault(item["InstanceType"], set()).add(item["Location"])
    return {name: tuple(sorted(found)) for name, found in sorted(zones.items())}


def dlami_ami_id(ssm: Any, parameter: str = DLAMI_PARAMETER) -> str:
    response = ssm.get_parameter(Name=parameter)
    return str(response["Parameter"]["Value"])


def refresh_prices(
    regions: Sequence[str],
    instance_types: Iterable[str] | None = None,
    *,
    session: Any | None = None,
    catalog: Catalog | None = None,
    today: dt.date | None = None,
) -> list[InstancePrice]:
    """Catalog rows for `regions` with spot prices replaced by the current ones (median over zones).

    Without `instance_types`, every AWS type the catalog prices in that region is refreshed. A type
    the catalog knows from another region gets a row with no on-demand price.
    """
    aws = _session(session)
    catalog = catalog or load_catalog()
    stamp = (today or dt.datetime.now(dt.UTC).date()).isoformat()
    known = {row.instance_type: row for row in catalog.prices if row.cloud == "aws"}
    rows: list[InstancePrice] = []
    for region in regions:
        in_region = {
            row.instance_type: row for row in catalog.prices if row.cloud == "aws" and row.region == region
        }
        wanted = sorted(set(instance_types) if instance_types is not None else set(in_region))
        unknown = [name for name in wanted if name not in known]
        if unknown:
            raise ValueError(
                f"instance type(s) {', '.join(unknown)} are not GPU types the catalog knows; known: "
                f"{', '.join(sorted(known))}"
            )
        if not wanted:
            continue
        prices = spot_prices(aws.client("ec2", region_name=region), wanted)
        for name in wanted:
            base = in_region.get(name) or replace(known[name], region=region, on_demand_usd_per_h=None)
            zones = prices.get(name, {})
            spot = statistics.median(zones.values()) if zones else None
            rows.append(
                replace(
                    base,
                    spot_usd_per_h=spot,
                    source=f"{base.source}; spot: EC2 DescribeSpotPriceHistory {region}, median over "
                    f"{len(zones)} zone(s)",
                    as_of=stamp,
                )
            )
    return rows


@dataclass(frozen=True)
class AwsPreflight:
    """What the plan can check in an AWS account before `pulumi up`."""

    region: str
    offered_zones: dict[str, tuple[str, ...]]
    spot_usd_per_h: dict[str, float]
    """Median current spot price per instance type."""
    dlami_ami_id: str | None
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, object]:
        return {
            "region": self.region,
            "offered_zones": {k: list(v) for k, v in self.offered_zones.items()},
            "spot_usd_per_h": self.spot_usd_per_h,
            "dlami_ami_id": self.dlami_ami_id,
            "problems": list(self.problems),
        }


def credentials_available(session: Any | None = None) -> bool:
    """True when boto3 finds credentials (no call is made)."""
    try:
        return _session(session).get_credentials() is not None
    except RuntimeError:
        return False


def preflight(
    region: str,
    instance_types: Sequence[str],
    *,
    session: Any | None = None,
    dlami_parameter: str = DLAMI_PARAMETER,
) -> AwsPreflight:
    """Check offerings, spot prices and the driver AMI in one region; API errors become problems."""
    from botocore.exceptions import BotoCoreError, ClientError

    aws = _session(session)
    problems: list[str] = []
    offered: dict[str, tuple[str, ...]] = {}
    spot: dict[str, float] = {}
    ami: str | None = None
    ec2 = aws.client("ec2", region_name=region)
    try:
        offered = instance_offerings(ec2, instance_types)
        for name in instance_types:
            if name not in offered:
                problems.append(
                    f"instance type {name!r} is not offered in any zone of {region}; pick another region "
                    "or instance type"
                )
        spot = {
            name: statistics.median(zones.values())
            for name, zones in spot_prices(ec2, instance_types).items()
            if zones
        }
    except (ClientError, BotoCoreError) as exc:
        problems.append(f"EC2 look-up in {region} failed: {exc}")
    try:
        ami = dlami_ami_id(aws.client("ssm", region_name=region), dlami_parameter)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ParameterNotFound":
            problems.append(
                f"SSM parameter {dlami_parameter} is not published in {region}; the GPU pool needs an image "
                "with the NVIDIA driver (set the pool's image explicitly or choose a region with the DLAMI)"
            )
        else:
            problems.append(f"SSM look-up of {dlami_parameter} in {region} failed: {exc}")
    except BotoCoreError as exc:
        problems.append(f"SSM look-up of {dlami_parameter} in {region} failed: {exc}")
    return AwsPreflight(
        region=region,
        offered_zones=offered,
        spot_usd_per_h=spot,
        dlami_ami_id=ami,
        problems=tuple(problems),
    )
