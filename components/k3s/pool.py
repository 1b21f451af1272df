"""Moved to `components.pools` (the pool args shape is cloud-neutral, not K3s's); kept for old imports."""

from components.pools import (
    MIN_DISK_GB,
    Capacity,
    GpuNodePoolArgs,
    ScalingSchedule,
    instance_family,
    validate_pool,
)

__all__ = [
    "MIN_DISK_GB",
    "Capacity",
    "GpuNodePoolArgs",
    "ScalingSchedule",
    "instance_family",
    "validate_pool",
]
