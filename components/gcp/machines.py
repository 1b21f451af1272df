"""GCP GPU machine table: which GPUs each machine type carries, and how N1 hosts take attached ones.

Pure Python. Two kinds of GPU machine exist on Compute Engine:

- accelerator-optimized types (G2, A2, A3) come with a fixed number of GPUs built in; the
  machine type alone says what the node carries (`g2-standard-8` = one L4);
- general-purpose N1 hosts take GPUs attached as `guestAccelerators` (T4, V100), within
  per-GPU limits on the count and the host's vCPUs.

A pool names an N1 machine with its GPUs as `<machine>+<GPU>x<count>`, e.g.
`n1-standard-8+T4x1`; the same string is the instance type of its price-catalog row.

Sources: cloud.google.com/compute/docs/gpus (GPU machine types, "N1 machine types with
attached GPUs" limits) and cloud.google.com/compute/docs/accelerator-optimized-machines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class GpuMachine:
    """What one pool instance type means on Compute Engine."""

    machine_type: str
    """Compute Engine machine type (`g2-standard-8`, `n1-standard-8`)."""
    gpu: str
    """GPU model as the capacity catalog names it (`L4`, `A100-80GB`, `T4`)."""
    gpu_count: int
    accelerator_type: str
    """Compute Engine accelerator type (`nvidia-l4`, `nvidia-tesla-t4`)."""
    attached: bool
    """True for N1 hosts: the GPUs go into the template's `guestAccelerators`."""

    @property
    def family(self) -> str:
        return self.machine_type.split("-", 1)[0]


# Accelerator-optimized machine types and the GPUs built into each.
_G2 = {
    "g2-standard-4": 1,
    "g2-standard-8": 1,
    "g2-standard-12": 1,
    "g2-standard-16": 1,
    "g2-standard-24": 2,
    "g2-standard-32": 1,
    "g2-standard-48": 4,
    "g2-standard-96": 8,
}
ACCELERATOR_OPTIMIZED: dict[str, tuple[str, int, str]] = {
    **{t: ("L4", n, "nvidia-l4") for t, n in _G2.items()},
    **{f"a2-highgpu-{n}g": ("A100", n, "nvidia-tesla-a100") for n in (1, 2, 4, 8)},
    "a2-megagpu-16g": ("A100", 16, "nvidia-tesla-a100"),
    **{f"a2-ultragpu-{n}g": ("A100-80GB", n, "nvidia-a100-80gb") for n in (1, 2, 4, 8)},
    **{f"a3-highgpu-{n}g": ("H100", n, "nvidia-h100-80gb") for n in (1, 2, 4, 8)},
    "a3-megagpu-8g": ("H100-MEGA", 8, "nvidia-h100-mega-80gb"),
    "a3-ultragpu-8g": ("H200", 8, "nvidia-h200-141gb"),
}
"""machine type -> (catalog GPU, count, accelerator type)."""

ACCELERATOR_FAMILIES: dict[str, str] = {"g2": "L4", "a2": "A100 or A100-80GB", "a3": "H100 or H200"}
"""The accelerator-optimized families, for messages."""


@dataclass(frozen=True)
class AttachedGpu:
    accelerator_type: str
    counts: tuple[int, ...]
    """GPU counts one N1 VM may take."""
    max_vcpus: dict[int, int]
    """Most host vCPUs allowed with each count."""


# GPUs that attach to N1 hosts, with GCP's per-count vCPU limits.
N1_ATTACHED_GPUS: dict[str, AttachedGpu] = {
    "T4": AttachedGpu("nvidia-tesla-t4", (1, 2, 4), {1: 48, 2: 48, 4: 96}),
    "V100": AttachedGpu("nvidia-tesla-v100", (1, 2, 4, 8), {1: 12, 2: 24, 4: 48, 8: 96}),
}
N1_HOST = re.compile(r"^n1-(standard|highmem|highcpu)-(\d+)$")
_ATTACHED = re.compile(r"^(?P<machine>[a-z0-9-]+)\+(?P<gpu>[A-Za-z0-9-]+)x(?P<count>\d+)$")
ACCELERATOR_TYPES: dict[str, str] = {
    **{gpu: accel for gpu, _, accel in ACCELERATOR_OPTIMIZED.values()},
    **{gpu: spec.accelerator_type for gpu, spec in N1_ATTACHED_GPUS.items()},
}
"""catalog GPU -> Compute Engine accelerator type."""

EXAMPLES = "'g2-standard-8' (L4), 'a2-highgpu-1g' (A100), 'a3-highgpu-8g' (H100) or 'n1-standard-8+T4x1'"


class MachineTypeError(ValueError):
    """An instance type the GCP pool cannot run, with the reason and the fix as the message."""


def attached_name(machine_type: str, gpu: str, count: int) -> str:
    """The pool/catalog spelling of an N1 host with attached GPUs: `n1-standard-8+T4x1`."""
    return f"{machine_type}+{gpu}x{count}"


def gpu_machine(instance_type: str) -> GpuMachine:
    """Parse a pool instance type; raises `MachineTypeError` saying what is wrong and how to fix it."""
    if instance_type in ACCELERATOR_OPTIMIZED:
        gpu, count, accelerator = ACCELERATOR_OPTIMIZED[instance_type]
        return GpuMachine(instance_type, gpu, count, accelerator, attached=False)
    attached = _ATTACHED.match(instance_type)
    machine = attached.group("machine") if attached else instance_type
    family = machine.split("-", 1)[0]
    if attached is not None and family in ACCELERATOR_FAMILIES:
        raise MachineTypeError(
            f"attaches GPUs to {machine!r}, but only N1 hosts take attached GPUs; "
            f"{family.upper()} types carry theirs built in ({ACCELERATOR_FAMILIES[family]}), "
            "so name the machine type alone"
        )
    if family in ACCELERATOR_FAMILIES:
        raise MachineTypeError(
            f"is not a {family.upper()} machine type this pool knows, and {family.upper()} types carry "
            f"their GPUs built in ({ACCELERATOR_FAMILIES[family]}); use one of "
            + ", ".join(sorted(t for t in ACCELERATOR_OPTIMIZED if t.startswith(family + "-")))
        )
    host = N1_HOST.match(machine)
    if attached is None:
        if host is not None:
            raise MachineTypeError(
                f"is an N1 host without a GPU; attach one as '{machine}+T4x1' "
                f"(GPUs for N1: {', '.join(N1_ATTACHED_GPUS)})"
            )
        raise MachineTypeError(f"is not a GPU machine type; use {EXAMPLES}")
    if host is None:
        raise MachineTypeError(
            f"attaches GPUs to {machine!r}, but only N1 hosts take attached GPUs; use e.g. "
            f"'n1-standard-8+{attached.group('gpu')}x1', or an accelerator-optimized type ({EXAMPLES})"
        )
    gpu, count = attached.group("gpu"), int(attached.group("count"))
    spec = N1_ATTACHED_GPUS.get(gpu)
    if spec is None:
        built_in = sorted(
            {t.split("-")[0].upper() for t, (g, _, _) in ACCELERATOR_OPTIMIZED.items() if g == gpu}
        )
        hint = f"; {gpu} comes built into {'/'.join(built_in)} machine types" if built_in else ""
        raise MachineTypeError(
            f"attaches {gpu}, which the N1 family does not carry "
            f"(N1 takes {', '.join(N1_ATTACHED_GPUS)}){hint}"
        )
    if count not in spec.counts:
        raise MachineTypeError(
            f"attaches {count} {gpu}; an N1 VM takes {', '.join(map(str, spec.counts))} of them"
        )
    vcpus = int(host.group(2))
    if vcpus > spec.max_vcpus[count]:
        raise MachineTypeError(
            f"has {vcpus} vCPUs, more than the {spec.max_vcpus[count]} GCP allows with {count} {gpu}; "
            "use a smaller N1 host or more GPUs"
        )
    return GpuMachine(machine, gpu, count, spec.accelerator_type, attached=True)
