"""The GCP checks the config layer and the components run before any resource. Pure Python.

`gcp_pool_problems` is the one list of what a GCP pool must satisfy: the shared pool checks
(`llmops.components.pools.validate_pool`, with the GCP machine table as its GPU lookup), then what a
managed instance group cannot express (several machine types, mixed capacity, windows on two
clocks) and what the region does not sell. The kit runs it with the stack's key paths, and
`GcpGpuNodePool` with its args' names, so both report the same problems.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmops.components.errors import MISSING, Problem, field_path
from llmops.components.gcp.machines import EXAMPLES, MachineTypeError, gpu_machine
from llmops.components.gcp.offerings import regions_offering, zones_offering
from llmops.components.gcp.schedules import fire_minutes
from llmops.components.pools import Capacity, GpuNodePoolArgs, validate_pool

POOL_NAME_MAX = 58
"""Pool names prefix the instance template, group and service account names (GCP: 63 characters)."""
REQUIRED_PROVIDER_KEYS = (("gcp:project", "my-project-id"), ("gcp:region", "us-central1"))


def gpu_of(instance_type: str) -> str | None:
    try:
        return gpu_machine(instance_type).gpu
    except MachineTypeError:
        return None


def gcp_pool_problems(
    name: str,
    args: GpuNodePoolArgs,
    *,
    region: str | None,
    path: str = "args",
    keys: Mapping[str, str] | None = None,
) -> list[Problem]:
    """Every problem of one GCP pool; `region` None skips the offering check (not known yet)."""
    keys = keys or {}

    def at(*parts: str) -> str:
        return field_path(path, keys, *parts)

    shared = validate_pool(args, gpu_of=gpu_of, example=EXAMPLES, path=path, keys=keys)
    # The GCP table says why a machine type is refused (an N1 host without GPUs, a G2 type with
    # attached GPUs); that replaces the shared "not in a known family" line.
    problems = [p for p in shared if not p.message.startswith("is not in a known GPU instance family")]
    for index, instance_type in enumerate(args.instance_types):
        try:
            gpu_machine(instance_type)
        except MachineTypeError as exc:
            problems.append(
                Problem(
                    at("instance_types", f"[{index}]"),
                    instance_type,
                    str(exc),
                    f"use a GCP GPU machine type: {EXAMPLES}",
                )
            )
    if len(args.instance_types) > 1:
        problems.append(
            Problem(
                at("instance_types"),
                list(args.instance_types),
                "lists several machine types; a GCP pool runs one (one instance template per group)",
                "keep one type per pool and add a pool for each other type",
            )
        )
    if args.capacity is Capacity.MIXED:
        problems.append(
            Problem(
                at("capacity"),
                args.capacity.value,
                "has no GCP form: a managed instance group is all spot or all on-demand",
                "use capacity: spot with fallbackPool naming an on-demand pool",
            )
        )
    if len(name) > POOL_NAME_MAX:
        problems.append(
            Problem(
                at("name"),
                name,
                f"is {len(name)} characters; it prefixes the pool's GCP resource names, which take at "
                f"most {POOL_NAME_MAX} here",
                "use a shorter name",
            )
        )
    zones = sorted({s.time_zone for s in args.schedules})
    if len(zones) > 1:
        problems.append(
            Problem(
                at("schedules"),
                zones,
                "use several time zones; a MIG's scaling schedules hold each window until the next, "
                "which needs one clock",
                f"give every window of the pool the same timezone, e.g. {zones[0]}",
            )
        )
    if args.node_autoscaled and args.schedules:
        problems.append(
            Problem(
                at("schedules"),
                [schedule.name for schedule in args.schedules],
                "cannot hold a pool that cluster-autoscaler resizes on GCP: MIG scaling schedules need "
                "the MIG autoscaler, and a MIG with an autoscaler refuses the resizes "
                "cluster-autoscaler makes",
                "remove the pool's schedules and put the windows on the model's autoscaling.windows "
                "(nodes follow the pods), or set nodeAutoscaling.enabled: false",
            )
        )
    for index, schedule in enumerate(args.schedules):
        try:
            fire_minutes(schedule.recurrence)
        except (ValueError, KeyError) as exc:
            problems.append(
                Problem(
                    at("schedules", f"[{index}]", "recurrence"),
                    schedule.recurrence,
                    str(exc),
                    "write e.g. '0 8 * * MON-FRI'",
                )
            )
    if region and args.instance_types and gpu_of(args.instance_types[0]) is not None:
        instance_type = args.instance_types[0]
        if not zones_offering(instance_type, region):
            elsewhere = ", ".join(regions_offering(instance_type)[:6])
            problems.append(
                Problem(
                    at("instance_types", "[0]"),
                    instance_type,
                    f"is not sold in any zone of region {region!r}",
                    f"pick a region that has it ({elsewhere}) or another machine type",
                )
            )
    return problems


def provider_problems(provider_keys: Mapping[str, Any]) -> list[Problem]:
    """The provider keys a GCP stack must set (the servers, pools and secrets name them)."""
    return [
        Problem(key, MISSING, "is not set; GCP servers and pools need it", f"add {key}: {example}")
        for key, example in REQUIRED_PROVIDER_KEYS
        if not isinstance(provider_keys.get(key), str) or not provider_keys[key]
    ]
