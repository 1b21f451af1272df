"""Moved to `llmops.components.pools` (the pool args shape is cloud-neutral); kept for old imports."""

from llmops.components.pools import (
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
