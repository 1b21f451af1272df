"""Which NVIDIA driver an Azure GPU size takes, and who installs it.

Most supported sizes take NVIDIA's data-centre (CUDA) driver, which the cluster's GPU operator
installs as a container (docs/decisions/110). The NVadsA10_v5 sizes expose the A10 through
NVIDIA's vGPU software, and Microsoft supports only its GRID guest driver there; the operator's
data-centre driver does not load on them. Azure's NVIDIA GPU Driver Extension
(`Microsoft.HpcCompute/NvidiaGpuDriverLinux`) picks the GRID driver for that family by default
(its published driver table, azhpc-extensions `NvidiaGPU/Nvidia-GPU-Linux-Resources.json`:
"NVadsA10_v5 Series": "GRID", Ubuntu 22.04 supported). So an A10 scale set runs the extension,
and its nodes carry `nvidia.com/gpu.deploy.driver=false` so the operator leaves their driver alone
while it still installs the toolkit and device plugin (docs/decisions/116). Pure Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from llmops.components.azure.machines import family

DRIVER_DEPLOY_LABEL = "nvidia.com/gpu.deploy.driver"
"""Node label the GPU operator reads to skip its driver DaemonSet on one node."""


class DriverSource(StrEnum):
    GPU_OPERATOR = "gpu-operator"
    """The operator's containerised data-centre driver (T4, A100, H100 sizes)."""
    GRID_EXTENSION = "grid-extension"
    """The NVIDIA GPU Driver Extension, which installs the GRID driver (NVadsA10_v5)."""


GRID_FAMILIES = frozenset({"Standard_NVads_A10_v5"})
"""Families whose GPU runs only with NVIDIA's GRID (vGPU guest) driver on Azure."""


@dataclass(frozen=True)
class DriverExtension:
    """The scale-set extension that installs the driver (plain data)."""

    name: str = "nvidia-gpu-driver"
    publisher: str = "Microsoft.HpcCompute"
    type: str = "NvidiaGpuDriverLinux"
    type_handler_version: str = "1.6"
    """Minor upgrades follow automatically (autoUpgradeMinorVersion)."""


GRID_EXTENSION = DriverExtension()


def driver_source(size: str) -> DriverSource:
    return DriverSource.GRID_EXTENSION if family(size) in GRID_FAMILIES else DriverSource.GPU_OPERATOR


def driver_labels(size: str) -> dict[str, str]:
    """Node labels for a size's driver: the operator skips nodes whose driver the extension installs."""
    return {DRIVER_DEPLOY_LABEL: "false"} if driver_source(size) is DriverSource.GRID_EXTENSION else {}
