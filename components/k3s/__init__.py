"""K3s cluster layer: servers with an in-program PKI, agents that join through cloud-init.

The Pulumi-free parts (`render`, `pool`, `pki`, `readiness`, `versions`) import without Pulumi;
the component classes load on first use, so `import llmops.components.k3s.render` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from llmops.components.k3s.render import (
    GPU_TAINT,
    SERVER_TAINT,
    FlannelBackend,
    NodeBootstrap,
    NodeExternalIp,
    NodeTaint,
)
from llmops.components.k3s.versions import K3S_VERSION

if TYPE_CHECKING:
    from llmops.components.errors import InputError as ClusterArgsError
    from llmops.components.errors import InputError as PoolConfigError
    from llmops.components.k3s.cluster import K3sAgentJoin, K3sCluster, K3sClusterArgs
    from llmops.components.k3s.host import K3sServerHost, ServerEndpoints
    from llmops.components.pools import Capacity, GpuNodePoolArgs, ScalingSchedule, validate_pool

# The pool args shape moved to components.pools; these names stay importable from here.
_MOVED = {
    "Capacity": ("llmops.components.pools", "Capacity"),
    "GpuNodePoolArgs": ("llmops.components.pools", "GpuNodePoolArgs"),
    "ScalingSchedule": ("llmops.components.pools", "ScalingSchedule"),
    "validate_pool": ("llmops.components.pools", "validate_pool"),
    "PoolConfigError": ("llmops.components.errors", "InputError"),
    "ClusterArgsError": ("llmops.components.errors", "InputError"),
}

_LAZY = {
    "K3sAgentJoin": "llmops.components.k3s.cluster",
    "K3sCluster": "llmops.components.k3s.cluster",
    "K3sClusterArgs": "llmops.components.k3s.cluster",
    "K3sServerHost": "llmops.components.k3s.host",
    "ServerEndpoints": "llmops.components.k3s.host",
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
    "NodeTaint",
    "PoolConfigError",
    "ScalingSchedule",
    "ServerEndpoints",
    "validate_pool",
]
