"""K3s cluster layer: servers with an in-program PKI, agents that join through cloud-init.

The Pulumi-free parts (`render`, `pool`, `pki`, `readiness`, `versions`) import without Pulumi;
the component classes load on first use, so `import components.k3s.render` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from components.k3s.render import (
    GPU_TAINT,
    SERVER_TAINT,
    FlannelBackend,
    NodeBootstrap,
    NodeExternalIp,
    NodeTaint,
)
from components.k3s.versions import K3S_VERSION

if TYPE_CHECKING:
    from components.errors import InputError as ClusterArgsError
    from components.errors import InputError as PoolConfigError
    from components.k3s.cluster import K3sAgentJoin, K3sCluster, K3sClusterArgs
    from components.k3s.host import K3sServerHost, ServerEndpoints
    from components.pools import Capacity, GpuNodePoolArgs, ScalingSchedule, validate_pool

# The pool args shape moved to components.pools; these names stay importable from here.
_MOVED = {
    "Capacity": ("components.pools", "Capacity"),
    "GpuNodePoolArgs": ("components.pools", "GpuNodePoolArgs"),
    "ScalingSchedule": ("components.pools", "ScalingSchedule"),
    "validate_pool": ("components.pools", "validate_pool"),
    "PoolConfigError": ("components.errors", "InputError"),
    "ClusterArgsError": ("components.errors", "InputError"),
}

_LAZY = {
    "K3sAgentJoin": "components.k3s.cluster",
    "K3sCluster": "components.k3s.cluster",
    "K3sClusterArgs": "components.k3s.cluster",
    "K3sServerHost": "components.k3s.host",
    "ServerEndpoints": "components.k3s.host",
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        module, attribute = _MOVED[name]
        return getattr(importlib.import_module(module), attribute)
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "GPU_TAINT",
    "K3S_VERSION",
    "SERVER_TAINT",
    "Capacity",
    "ClusterArgsError",
    "FlannelBackend",
    "GpuNodePoolArgs",
    "K3sAgentJoin",
    "K3sCluster",
    "K3sClusterArgs",
    "K3sServerHost",
    "NodeBootstrap",
    "NodeExternalIp",
    "NodeProviderId",
    "NodeTaint",
    "PoolConfigError",
    "ScalingSchedule",
    "ServerEndpoints",
    "validate_pool",
]
