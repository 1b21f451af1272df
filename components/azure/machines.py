"""The Azure GPU machine table: VM size -> GPU model and count, read from the capacity catalog.

Azure sizes carry no dot (`Standard_NC4as_T4_v3`), so the family is the size without its vCPU
count: `Standard_NCas_T4_v3`. Only the families below are supported (their driver and image
path is tested: docs/azure.md); the catalog's other Azure rows (ND A100 v4) price but do not
validate. Pure Python.
"""

from __future__ import annotations

import functools
import re

from llmops.components.capacity.catalog import load_catalog
from llmops.components.cloud import GpuMachine

CLOUD = "azure"

FAMILIES: dict[str, str] = {
    "Standard_NCas_T4_v3": "T4",
    "Standard_NVads_A10_v5": "A10",
    "Standard_NCads_A100_v4": "A100-80GB",
    "Standard_NCads_H100_v5": "H100-NVL",
    "Standard_NDisr_H100_v5": "H100",
}
"""Supported families (NCasT4_v3, NVadsA10_v5, NC A100 v4, NCads H100 v5, ND H100 v5) -> GPU."""

_SIZE = re.compile(r"^Standard_([A-Z]+)(\d+)([a-z]*)_(.+)$")


def family(size: str) -> str | None:
    """`Standard_NC24ads_A100_v4` -> `Standard_NCads_A100_v4`; None for a name of another shape."""
    match = _SIZE.match(size)
    if match is None:
        return None
    letters, _, features, rest = match.groups()
    return f"Standard_{letters}{features}_{rest}"


@functools.cache
def gpu_machines() -> dict[str, GpuMachine]:
    """Every VM size of a supported family the catalog prices, with its GPU and GPU count."""
    machines: dict[str, GpuMachine] = {}
    for row in load_catalog().prices:
        if row.cloud == CLOUD and family(row.instance_type) in FAMILIES:
            machines.setdefault(row.instance_type, GpuMachine(row.instance_type, row.gpu, row.gpu_count))
    return dict(sorted(machines.items()))


def gpu_families() -> dict[str, str]:
    return dict(FAMILIES)


def gpu_of(size: str) -> str | None:
    """GPU model of a VM size, or None when it is not in a supported GPU family."""
    name = family(size)
    return None if name is None else FAMILIES.get(name)


@functools.cache
def priced_regions() -> list[str]:
    """Locations where the catalog prices at least one supported size."""
    return sorted(
        {
            row.region
            for row in load_catalog().prices
            if row.cloud == CLOUD and row.instance_type in gpu_machines()
        }
    )
