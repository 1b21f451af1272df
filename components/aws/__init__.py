"""AWS cloud layer: network, K3s servers on EC2, GPU node pools, and the kit the generic layers use.

`components.aws.kit.KIT` is what `components.cloud.kit("aws")` returns. The component classes
load on first use, so the kit, the machine table and the look-ups import without Pulumi.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.addons.termination_handler import SpotInterruptionHandler, SpotInterruptionHandlerArgs
    from components.aws.gpu_pool import AwsGpuNodePool, AwsGpuNodePoolArgs
    from components.aws.network import AwsNetwork
    from components.aws.network_args import AwsNetworkArgs, NetworkArgsError
    from components.aws.servers import AwsK3sServers, AwsK3sServersArgs

_LAZY = {
    "AwsGpuNodePool": "components.aws.gpu_pool",
    "AwsGpuNodePoolArgs": "components.aws.gpu_pool",
    "AwsK3sServers": "components.aws.servers",
    "AwsK3sServersArgs": "components.aws.servers",
    "AwsNetwork": "components.aws.network",
    "AwsNetworkArgs": "components.aws.network_args",
    "NetworkArgsError": "components.aws.network_args",
    # Moved to the add-ons package (a Kubernetes add-on); importable from here as before.
    "SpotInterruptionHandler": "components.addons.termination_handler",
    "SpotInterruptionHandlerArgs": "components.addons.termination_handler",
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
