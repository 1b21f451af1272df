"""AWS cloud layer: network, K3s servers on EC2, GPU node pools, and the kit the generic layers use.

`llmops.components.aws.kit.KIT` is what `llmops.components.cloud.kit("aws")` returns. The component classes
load on first use, so the kit, the machine table and the look-ups import without Pulumi.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmops.components.addons.termination_handler import (
        SpotInterruptionHandler,
        SpotInterruptionHandlerArgs,
    )
    from llmops.components.aws.gpu_pool import AwsGpuNodePool, AwsGpuNodePoolArgs
    from llmops.components.aws.network import AwsNetwork
    from llmops.components.aws.network_args import AwsNetworkArgs, NetworkArgsError
    from llmops.components.aws.servers import AwsK3sServers, AwsK3sServersArgs

_LAZY = {
    "AwsGpuNodePool": "llmops.components.aws.gpu_pool",
    "AwsGpuNodePoolArgs": "llmops.components.aws.gpu_pool",
    "AwsK3sServers": "llmops.components.aws.servers",
    "AwsK3sServersArgs": "llmops.components.aws.servers",
    "AwsNetwork": "llmops.components.aws.network",
    "AwsNetworkArgs": "llmops.components.aws.network_args",
    "NetworkArgsError": "llmops.components.aws.network_args",
    # Moved to the add-ons package (a Kubernetes add-on); importable from here as before.
    "SpotInterruptionHandler": "llmops.components.addons.termination_handler",
    "SpotInterruptionHandlerArgs": "llmops.components.addons.termination_handler",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AwsGpuNodePool",
    "AwsGpuNodePoolArgs",
    "AwsK3sServers",
    "AwsK3sServersArgs",
    "AwsNetwork",
    "AwsNetworkArgs",
    "NetworkArgsError",
    "SpotInterruptionHandler",
    "SpotInterruptionHandlerArgs",
]
