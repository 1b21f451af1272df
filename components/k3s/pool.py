"""The node-pool args shape shared by every cloud's GPU pool, and its cloud-neutral checks.

Pure Python. `AwsGpuNodePoolArgs` (and later the GCP and Azure pools) extend `GpuNodePoolArgs`
with their cloud's own fields; a stack config can call `validate_pool` with the key
path of the pool (`pools[1]`) so the messages name the stack file's keys.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from components.cron import cron_problem, timezone_problem
from components.k3s.render import GPU_TAINT, NodeTaint


class Capacity(enum.Enum):
    """Which EC2/GCE/Azure purchase option the pool's nodes use."""

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
    """Root volume (encrypted gp3); default: 200 GB for the driver image, CUDA images and model cache."""
    labels: dict[str, str] = field(default_factory=dict)
    """Extra node labels, beside the `llmops.io/*` ones every pool gets; default: none."""
    taints: Sequence[NodeTaint] = (GPU_TAINT,)
    """Node taints; default: `nvidia.com/gpu=true:NoSchedule`, so only GPU workloads land here."""
    schedules: Sequence[ScalingSchedule] = ()
    """Time-based scaling; default: none."""


# Instance families with NVIDIA GPUs that the pools know, and the GPU each carries
# (AWS "Accelerated computing instances" documentation).
AWS_GPU_FAMILIES: dict[str, str] = {
    "g4dn": "T4",
    "g5": "A10G",
    "g6": "L4",
    "gr6": "L4",
    "g6e": "L40S",
    "p3": "V100",
    "p3dn": "V100-32GB",
    "p4d": "A100-40GB",
    "p4de": "A100-80GB",
    "p5": "H100",
    "p5e": "H200",
    "p5en": "H200",
    "p6-b200": "B200",
}

MIN_DISK_GB = 100
_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_LABEL_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


class PoolConfigError(ValueError):
    """Every problem of a pool's args at once, one per line."""

    def __init__(self, component: str, problems: Sequence[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{component}: {len(self.problems)} problem(s) in the node pool args:\n{lines}")


def instance_family(instance_type: str) -> str:
    return instance_type.split(".", 1)[0]


def gpu_of(instance_type: str, families: dict[str, str] = AWS_GPU_FAMILIES) -> str | None:
    """GPU model of an instance type, or None when its family is not a known GPU family."""
    if "." not in instance_type:
        return None
    return families.get(instance_family(instance_type))


def _label_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if (prefix and not _LABEL_PREFIX.match(prefix)) or not name or not _LABEL_NAME.match(name):
        return "is not a valid Kubernetes label key"
    return None


def validate_pool(
    args: GpuNodePoolArgs, *, path: str = "args", families: dict[str, str] = AWS_GPU_FAMILIES
) -> list[str]:
    """Every problem of `args`, each naming the key path, the value, what is allowed and the fix."""
    problems: list[str] = []
    known = ", ".join(sorted(families))
    if not args.instance_types:
        problems.append(
            f"{path}.instance_types: [] is empty; list at least one GPU instance type, e.g. ['g6.xlarge']"
        )
    for index, instance_type in enumerate(args.instance_types):
        if gpu_of(instance_type, families) is None:
            problems.append(
                f"{path}.instance_types[{index}]: {instance_type!r} is not in a known GPU instance family "
                f"({known}); use a GPU type such as 'g6.xlarge', or add the family to AWS_GPU_FAMILIES "
                "in components/k3s/pool.py"
            )
    if len(set(args.instance_types)) != len(args.instance_types):
        problems.append(
            f"{path}.instance_types: {list(args.instance_types)!r} lists a type twice; remove the repeat"
        )
    if not isinstance(args.capacity, Capacity):
        problems.append(
            f"{path}.capacity: {args.capacity!r} is not one of spot, on-demand, mixed; pick one of them"
        )
    if args.min_size < 0:
        problems.append(f"{path}.min_size: {args.min_size} is negative; use 0 or more")
    if args.min_size > args.max_size:
        problems.append(
            f"{path}.min_size: {args.min_size} is greater than max_size {args.max_size}; "
            "lower min_size or raise max_size"
        )
    if args.max_size == 0 and args.capacity in (Capacity.SPOT, Capacity.MIXED):
        problems.append(
            f"{path}.max_size: 0 with capacity '{args.capacity.value}' can never launch a node; "
            "set max_size to 1 or more, or remove the pool"
        )
    if args.desired_size is not None and not args.min_size <= args.desired_size <= args.max_size:
        problems.append(
            f"{path}.desired_size: {args.desired_size} is outside min_size..max_size "
            f"({args.min_size}..{args.max_size}); pick a value in that range or leave it unset"
        )
    if args.capacity is Capacity.MIXED and not 0 <= args.on_demand_base <= args.max_size:
        problems.append(
            f"{path}.on_demand_base: {args.on_demand_base} is outside 0..max_size ({args.max_size}); "
            "lower it or raise max_size"
        )
    if args.disk_size_gb < MIN_DISK_GB:
        problems.append(
            f"{path}.disk_size_gb: {args.disk_size_gb} is below {MIN_DISK_GB}; the driver image plus "
            f"CUDA container images need at least {MIN_DISK_GB} GB"
        )
    for key, value in args.labels.items():
        if (why := _label_key_problem(key)) is not None:
            problems.append(
                f"{path}.labels: key {key!r} {why}; use `prefix/name` with 63 characters or fewer"
            )
        if not _LABEL_NAME.match(value):
            problems.append(
                f"{path}.labels[{key!r}]: {value!r} is not a valid label value; "
                "use 63 or fewer letters, digits, '-', '_' or '.'"
            )
    names: set[str] = set()
    for index, schedule in enumerate(args.schedules):
        where = f"{path}.schedules[{index}]"
        if schedule.name in names:
            problems.append(f"{where}.name: {schedule.name!r} is used twice; give each schedule its own name")
        names.add(schedule.name)
        # The same field-by-field checks as the stack config (components/cron.py).
        if (cron := cron_problem(schedule.recurrence.strip())) is not None:
            problems.append(
                f"{where}.recurrence: {schedule.recurrence!r} {cron}; write e.g. '0 8 * * MON-FRI'"
            )
        if timezone_problem(schedule.time_zone) is not None:
            problems.append(
                f"{where}.time_zone: {schedule.time_zone!r} is not an IANA time zone; "
                "write e.g. 'Europe/Berlin'"
            )
        if not 0 <= schedule.min_size <= schedule.desired_size <= schedule.max_size:
            problems.append(
                f"{where}: min_size {schedule.min_size}, desired_size {schedule.desired_size}, "
                f"max_size {schedule.max_size} are not ordered 0 <= min <= desired <= max; fix the sizes"
            )
    return problems
