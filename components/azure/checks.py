"""The Azure checks the config layer runs before any resource, and the bootstrap fragment. Pure Python."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path

from llmops.components.azure.machines import gpu_families, gpu_of
from llmops.components.errors import Problem, field_path, key_path
from llmops.components.k3s.render import NodeBootstrap
from llmops.components.pools import Capacity, GpuNodePoolArgs, validate_pool

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"
BOOTSTRAP = NodeBootstrap(
    cloud="azure", script=SCRIPTS_DIR / "cloud.sh", image_credentials=SCRIPTS_DIR / "image-credentials.sh"
)
"""The Azure part of the node bootstrap: secrets from Key Vault and the address from IMDS,
both through the machine's managed identity."""
INSTANCE_TYPE_EXAMPLE = "'Standard_NC4as_T4_v3' (T4) or 'Standard_NC24ads_A100_v4' (A100 80GB)"

# Azure autoscale profiles take Windows time zone names; the stack writes IANA names.
WINDOWS_TIME_ZONES: dict[str, str] = {
    "UTC": "UTC",
    "Etc/UTC": "UTC",
    "Europe/London": "GMT Standard Time",
    "Europe/Dublin": "GMT Standard Time",
    "Europe/Berlin": "W. Europe Standard Time",
    "Europe/Amsterdam": "W. Europe Standard Time",
    "Europe/Paris": "Romance Standard Time",
    "Europe/Madrid": "Romance Standard Time",
    "Europe/Warsaw": "Central European Standard Time",
    "Europe/Helsinki": "FLE Standard Time",
    "America/New_York": "Eastern Standard Time",
    "America/Chicago": "Central Standard Time",
    "America/Denver": "Mountain Standard Time",
    "America/Los_Angeles": "Pacific Standard Time",
    "America/Sao_Paulo": "E. South America Standard Time",
    "Asia/Tokyo": "Tokyo Standard Time",
    "Asia/Singapore": "Singapore Standard Time",
    "Asia/Kolkata": "India Standard Time",
    "Australia/Sydney": "AUS Eastern Standard Time",
}
DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_DAY_NAMES = {name[:3].upper(): index for index, name in enumerate(DAYS)}
_NUMBER_LIST = re.compile(r"^\d+(,\d+)*$")


def cron_days(field: str) -> list[str] | None:
    """Day-of-week field (`*`, `1-5`, `MON-FRI`, `0,6`) -> Azure day names; None if unsupported."""
    if field == "*":
        return list(DAYS)
    days: set[int] = set()
    for part in field.split(","):
        low, _, high = part.partition("-")
        start = int(low) if low.isdigit() else _DAY_NAMES.get(low.upper())
        end = start if not high else (int(high) if high.isdigit() else _DAY_NAMES.get(high.upper()))
        if start is None or end is None or not 0 <= start <= end <= 7:
            return None
        days.update(day % 7 for day in range(start, end + 1))
    return [DAYS[day] for day in sorted(days)]


def cron_times(recurrence: str) -> tuple[list[int], list[int], list[str]] | None:
    """`M H * * DOW` -> (hours, minutes, days) of an Azure weekly recurrence; None if not that shape."""
    fields = recurrence.split()
    if len(fields) != 5 or fields[2] != "*" or fields[3] != "*":
        return None
    minute, hour, _, _, dow = fields
    if not _NUMBER_LIST.match(minute) or not _NUMBER_LIST.match(hour):
        return None
    minutes, hours = [int(m) for m in minute.split(",")], [int(h) for h in hour.split(",")]
    if any(not 0 <= m <= 59 for m in minutes) or any(not 0 <= h <= 23 for h in hours):
        return None
    days = cron_days(dow)
    return None if days is None else (hours, minutes, days)


def validate_azure_pool(
    name: str, args: GpuNodePoolArgs, *, path: str = "args", keys: Mapping[str, str] | None = None
) -> list[Problem]:
    """The shared pool checks against the Azure size table, and what a scale set allows."""
    keys = keys or {}

    def at(field: str, *rest: str) -> str:
        out = field_path(path, keys, field)
        for part in rest:
            out = key_path(out, part)
        return out

    problems = validate_pool(
        args,
        gpu_of=gpu_of,
        known_families=list(gpu_families()),
        example=INSTANCE_TYPE_EXAMPLE,
        path=path,
        keys=keys,
    )
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?", name):
        problems.append(
            Problem(
                field_path(path, keys, "name"),
                name,
                "is not 1-40 lower-case letters, digits and hyphens; it names the scale set and "
                "prefixes its machines' host names",
                "use a shorter name such as 't4-spot'",
            )
        )
    if len(args.instance_types) > 1:
        problems.append(
            Problem(
                at("instance_types"),
                list(args.instance_types),
                "lists several sizes; an Azure scale set (Uniform) runs one VM size",
                "list one size, and add a fallback pool of another size",
            )
        )
    if args.capacity is Capacity.MIXED:
        problems.append(
            Problem(
                at("capacity"),
                "mixed",
                "is not supported on Azure yet (a Uniform scale set is all Spot or all Regular)",
                "use capacity: spot with a fallbackPool of capacity: on-demand",
            )
        )
    if template_tag_count(args) > MAX_TAGS:
        problems.append(
            Problem(
                at("labels"),
                len(args.labels),
                f"labels are too many for one scale set: each becomes a node-template tag, and Azure "
                f"allows {MAX_TAGS} tags a resource",
                f"keep at most {MAX_TAGS - template_tag_count(dataclasses.replace(args, labels={}))} labels",
            )
        )
    for index, schedule in enumerate(args.schedules):
        if cron_times(schedule.recurrence) is None:
            problems.append(
                Problem(
                    at("schedules", f"[{index}]", keys.get("recurrence", "recurrence")),
                    schedule.recurrence,
                    "is not 'MINUTE HOUR * * DAYS'; Azure autoscale profiles repeat weekly",
                    "write minutes and hours as numbers and days as '*', '1-5' or 'MON-FRI'",
                )
            )
        if schedule.time_zone not in WINDOWS_TIME_ZONES:
            problems.append(
                Problem(
                    at("schedules", f"[{index}]", keys.get("time_zone", "time_zone")),
                    schedule.time_zone,
                    "has no Windows time zone name known to llmops (Azure autoscale needs one)",
                    f"use one of {', '.join(sorted(WINDOWS_TIME_ZONES))}",
                )
            )
    return problems


MAX_TAGS = 50
"""Azure Resource Manager's limit of tags on one resource."""
OWN_TAGS = 7
"""Tags a scale set carries besides its node template: llmops' three and the autoscaler's four."""


def template_tag_count(args: GpuNodePoolArgs) -> int:
    """Scale-set tags of a pool: llmops' and discovery's, one per node label (the pool's own five,
    the driver label, the user's) and taint, and the GPU count (components/azure/gpu_pool.py)."""
    return OWN_TAGS + 6 + len(args.labels) + len(args.taints) + 1


def server_problems(server_count: int, *, path: str = "args") -> list[Problem]:
    if server_count > 1:
        return [
            Problem(
                key_path(path, "servers"),
                server_count,
                "is more than one; Azure runs a single K3s server in this version (no API load balancer yet)",
                "set servers: 1",
            )
        ]
    return []
