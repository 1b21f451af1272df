"""The AWS GPU machine table: instance type -> GPU model and count, read from the capacity catalog.

One table only: the catalog's AWS rows (components/capacity/data/prices.csv) say what each
priced instance type carries, and the family table below is derived from them, so a machine
the plan can validate is also one it can price. Pure Python.
"""

from __future__ import annotations

import functools

from llmops.components.capacity.catalog import load_catalog, normalise_gpu_name
from llmops.components.cloud import GpuMachine
from llmops.components.pools import instance_family

CLOUD = "aws"


@functools.cache
def gpu_machines() -> dict[str, GpuMachine]:
    """Every AWS GPU instance type the catalog prices, with its GPU and GPU count."""
    machines: dict[str, GpuMachine] = {}
    for row in load_catalog().prices:
        if row.cloud == CLOUD and row.instance_type not in machines:
            machines[row.instance_type] = GpuMachine(row.instance_type, row.gpu, row.gpu_count)
    return dict(sorted(machines.items()))


@functools.cache
def gpu_families() -> dict[str, str]:
    """Instance family (`g6`, `p5`) -> the GPU every size of it carries."""
    families: dict[str, str] = {}
    for machine in gpu_machines().values():
        families.setdefault(instance_family(machine.instance_type), machine.gpu)
    return dict(sorted(families.items()))


def gpu_of(instance_type: str) -> str | None:
    """GPU model of an instance type, or None when its family is not a known GPU family."""
    if "." not in instance_type:
        return None
    return gpu_families().get(instance_family(instance_type))


def same_gpu(a: str, b: str) -> bool:
    """Whether two GPU names mean the same model (`A100-40GB` and `A100` do)."""
    return normalise_gpu_name(a) == normalise_gpu_name(b)
