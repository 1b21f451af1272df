"""AWS cloud layer: network, K3s servers on EC2, GPU node pools, spot interruption handling."""

from components.aws.gpu_pool import AwsGpuNodePool, AwsGpuNodePoolArgs
from components.aws.network import AwsNetwork, AwsNetworkArgs, NetworkArgsError
from components.aws.servers import AwsK3sServers, AwsK3sServersArgs
from components.aws.termination_handler import SpotInterruptionHandler, SpotInterruptionHandlerArgs

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
