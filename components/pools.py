"""The node-pool args shape every cloud's GPU pool shares, and its cloud-neutral checks.

Pure Python. A cloud's pool args (`AwsGpuNodePoolArgs`, later GCP's and Azure's) extend
`GpuNodePoolArgs` with that cloud's own fields. `validate_pool` takes the key path of the
pool and a table from args field names to the caller's key names, so the stack config
reports the problems with the stack file's keys (`pools[1].schedules[0].name`) before any
resource exists, and the component reports the same problems with its own field names.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from llmops.components.cron import cron_problem, timezone_problem
from llmops.components.errors import MISSING, Problem, field_path
from llmops.components.k3s.render import GPU_TAINT, NodeTaint


class Capacity(enum.Enum):
    """Which purchase option the pool's nodes use."""

    SPOT = "spot"
    """Spot/preemptible only: cheapest, may be reclaimed with a short notice."""
    ON_DEMAND = "on-demand"
    """On-demand only: the fallback pool that is always obtainable."""
    MIXED = "mixed"
    """`on_demand_base` on-demand nodes, spot for everything above."""


@dataclass(frozen=True, kw_only=True)
class ScalingSchedule:
    """A time-based size change of the pool, applied by the cloud's own scheduler."""

    name: str
    """Suffix of the schedule's resource name; unique within the pool."""
    recurrence: str
    """Five-field cron expression, e.g. `0 8 * * MON-FRI` (08:00 on weekdays)."""
    min_size: int
    max_size: int
    desired_size: int
    time_zone: str = "UTC"
    """IANA time zone the cron expression is read in; default: UTC."""


@dataclass(kw_only=True)
class GpuNodePoolArgs:
    """Fields every cloud's GPU pool shares."""

    instance_types: Sequence[str]
    """Instance types the pool may launch, most preferred first; several widen spot capacity."""
    capacity: Capacity = Capacity.SPOT
    """Purchase option; default: spot only (pair it with an on-demand fallback pool)."""
    on_demand_base: int = 1
    """With `mixed`: how many nodes are always on-demand; default: one. Ignored otherwise."""
    min_size: int = 0
    """Fewest nodes; default: zero, so an idle pool costs nothing."""
    max_size: int = 1
    """Most nodes; default: one."""
    desired_size: int | None = None
    """Nodes at creation; default: `min_size`. Later changes come from schedules and scaling."""
    disk_size_gb: int = 200
    """Root volume (encrypted); default: 200 GB for the driver image, CUDA images and model cache."""
    labels: dict[str, str] = field(default_factory=dict)
    """Extra node labels, beside the `llmops.io/*` ones every pool gets; default: none."""
    taints: Sequence[NodeTaint] = (GPU_TAINT,)
    """Node taints; default: `nvidia.com/gpu=true:NoSchedule`, so only GPU workloads land here."""
    schedules: Sequence[ScalingSchedule] = ()
    """Time-based scaling; default: none."""
    node_autoscaled: bool = False
    """Whether cluster-autoscaler resizes this pool; default: no. A cloud whose autoscaler needs
    another group shape builds that (GCP: one zonal MIG per zone, docs/decisions/104)."""


MIN_DISK_GB = 100
_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_LABEL_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")

GpuLookup = Callable[[str], "str | None"]
"""instance type -> the GPU it carries, or None for a machine the cloud's table does not know."""


def instance_family(instance_type: str) -> str:
    return instance_type.split(".", 1)[0]


def _label_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if (prefix and not _LABEL_PREFIX.match(prefix)) or not name or not _LABEL_NAME.match(name):
        return "is not a valid Kubernetes label key"
    return None


def validate_pool(
    args: GpuNodePoolArgs,
    *,
    gpu_of: GpuLookup,
    known_families: Sequence[str] = (),
    example: str = "",
    path: str = "args",
    keys: Mapping[str, str] | None = None,
) -> list[Problem]:
    """Every problem of `args`, each with its key path (`path` + the key `keys` maps the field to)."""
    keys = keys or {}

    def at(*parts: str) -> str:
        return field_path(path, keys, *parts)

    problems: list[Problem] = []
    known = ", ".join(sorted(known_families))
    if not args.instance_types:
        problems.append(
            Problem(
                at("instance_types"),
                [],
                "is empty; a pool needs at least one machine type",
                f"list one or more GPU machine types, e.g. {example}",
            )
        )
    for index, instance_type in enumerate(args.instance_types):
        if gpu_of(instance_type) is None:
            problems.append(
                Problem(
                    at("instance_types", f"[{index}]"),
                    instance_type,
                    f"is not in a known GPU instance family ({known})",
                    f"use a GPU machine type such as {example}",
                )
            )
    seen: set[str] = set()
    for index, instance_type in enumerate(args.instance_types):
        if instance_type in seen:
            problems.append(
                Problem(
                    at("instance_types", f"[{index}]"),
                    instance_type,
                    "is listed twice",
                    "remove the repeat",
                )
            )
        seen.add(instance_type)
    if not isinstance(args.capacity, Capacity):
        problems.append(
            Problem(at("capacity"), args.capacity, "is not one of spot, on-demand, mixed", "pick one of them")
        )
    if args.min_size < 0:
        problems.append(Problem(at("min_size"), args.min_size, "is negative", "use 0 or more"))
    if args.min_size > args.max_size:
        problems.append(
            Problem(
                at("min_size"),
                args.min_size,
                f"is larger than max ({args.max_size})",
                f"set min <= {args.max_size}, or raise max to {args.min_size}",
            )
        )
    if args.max_size == 0 and args.capacity in (Capacity.SPOT, Capacity.MIXED):
        problems.append(
            Problem(
                at("max_size"),
                0,
                f"makes a {args.capacity.value} pool that can never hold a machine",
                "set max >= 1, or remove the pool",
            )
        )
    if args.desired_size is not None and not args.min_size <= args.desired_size <= args.max_size:
        low = args.desired_size < args.min_size
        limit = args.min_size if low else args.max_size
        problems.append(
            Problem(
                at("desired_size"),
                args.desired_size,
                f"is {'below min' if low else 'above max'} ({limit})",
                f"set desired {'>=' if low else '<='} {limit}",
            )
        )
    if args.capacity is Capacity.MIXED and not 0 <= args.on_demand_base <= args.max_size:
        problems.append(
            Problem(
                at("on_demand_base"),
                args.on_demand_base,
                f"is outside 0..max ({args.max_size})",
                f"set it between 0 and {args.max_size}, or raise max",
            )
        )
    if args.disk_size_gb < MIN_DISK_GB:
        problems.append(
            Problem(
                at("disk_size_gb"),
                args.disk_size_gb,
                f"is below {MIN_DISK_GB}; the driver image plus CUDA container images need at least "
                f"{MIN_DISK_GB} GB",
                f"set it to {MIN_DISK_GB} or more",
            )
        )
    for key, value in args.labels.items():
        if (why := _label_key_problem(key)) is not None:
            problems.append(
                Problem(
                    at("labels"),
                    key,
                    why,
                    "use `prefix/name` or `name`: ASCII letters, digits, '-', '_' and '.', "
                    "the name 63 characters or fewer",
                )
            )
        if not _LABEL_NAME.match(value):
            problems.append(
                Problem(
                    at("labels", key),
                    value,
                    "is not a valid label value",
                    "use 63 or fewer ASCII letters, digits, '-', '_' or '.'",
                )
            )
    names: set[str] = set()
    for index, schedule in enumerate(args.schedules):
        where = at("schedules", f"[{index}]")
        if schedule.name in names:
            problems.append(
                Problem(
                    field_path(where, keys, "name"),
                    schedule.name,
                    "is used twice in this pool's schedules",
                    "give each schedule its own name",
                )
            )
        names.add(schedule.name)
        # The same field-by-field checks as the stack config (components/cron.py).
        if (cron := cron_problem(schedule.recurrence.strip())) is not None:
            problems.append(
                Problem(
                    field_path(where, keys, "recurrence"),
                    schedule.recurrence,
                    cron,
                    "write e.g. '0 8 * * MON-FRI'",
                )
            )
        if timezone_problem(schedule.time_zone) is not None:
            problems.append(
                Problem(
                    field_path(where, keys, "time_zone"),
                    schedule.time_zone,
                    "is not an IANA time zone",
                    "write e.g. 'Europe/Berlin'",
                )
            )
        if not 0 <= schedule.min_size <= schedule.desired_size <= schedule.max_size:
            problems.append(
                Problem(
                    where,
                    MISSING,
                    f"sizes min {schedule.min_size}, desired {schedule.desired_size}, "
                    f"max {schedule.max_size} are not ordered 0 <= min <= desired <= max",
                    "fix the sizes",
                )
            )
    return problems
