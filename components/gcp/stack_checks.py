"""What a stack file's GCP pools must satisfy, as (key, value, problem, fix) tuples. Pure Python.

The config layer turns each tuple into its `Problem` under the pool's key path, so the same
checks the component runs (`validate_gcp_pool`) reach the user as stack-file errors before any
resource exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.gcp.machines import EXAMPLES, MachineTypeError, gpu_machine
from components.gcp.offerings import regions_offering, zones_offering
from components.gcp.schedules import fire_minutes

Finding = tuple[str, Any, str, str]


def pool_findings(
    *,
    instance_types: Sequence[str],
    gpu_type: str,
    capacity: str,
    region: str | None,
    schedules: Sequence[tuple[str, str]] = (),
) -> list[Finding]:
    """Problems of one GCP pool; `schedules` are its windows' (cron, time zone)."""
    findings: list[Finding] = []
    zones = sorted({zone for _, zone in schedules})
    if len(zones) > 1:
        findings.append(
            (
                "schedules",
                zones,
                "use several time zones; a MIG's scaling schedules hold each window until the next, "
                "which needs one clock",
                f"give every window of the pool the same timezone, e.g. {zones[0]}",
            )
        )
    for index, (cron, _) in enumerate(schedules):
        try:
            fire_minutes(cron)
        except (ValueError, KeyError) as exc:
            findings.append((f"schedules[{index}].cron", cron, str(exc), "write e.g. '0 8 * * 1-5'"))
    if len(instance_types) > 1:
        findings.append(
            (
                "instanceTypes",
                list(instance_types),
                "lists several machine types; a GCP pool runs one (one instance template per group)",
                "keep one type per pool and add a pool for each other type",
            )
        )
    if capacity == "mixed":
        findings.append(
            (
                "capacity",
                capacity,
                "has no GCP form: a managed instance group is all spot or all on-demand",
                "use capacity: spot with fallbackPool naming an on-demand pool",
            )
        )
    for index, instance_type in enumerate(instance_types[:1]):
        key = f"instanceTypes[{index}]"
        try:
            machine = gpu_machine(instance_type)
        except MachineTypeError as exc:
            findings.append((key, instance_type, str(exc), f"use a GCP GPU machine type: {EXAMPLES}"))
            continue
        if machine.gpu != gpu_type:
            findings.append(
                (
                    key,
                    instance_type,
                    f"carries {machine.gpu} GPUs, not the pool's gpuType {gpu_type!r}",
                    f"set gpuType: {machine.gpu}, or pick a {gpu_type} machine type",
                )
            )
        if region and not zones_offering(instance_type, region):
            elsewhere = ", ".join(regions_offering(instance_type)[:6])
            findings.append(
                (
                    key,
                    instance_type,
                    f"is not sold in any zone of gcp:region {region!r}",
                    f"pick a region that has it ({elsewhere}) or another machine type",
                )
            )
    return findings
