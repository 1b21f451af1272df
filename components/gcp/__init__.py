"""GCP cloud layer: network, K3s servers on Compute Engine, GPU node pools in managed instance groups."""

from llmops.components.gcp.gpu_pool import GcpGpuNodePool, GcpGpuNodePoolArgs, TerminationAction
from llmops.components.gcp.machines import GpuMachine, MachineTypeError, gpu_machine
from llmops.components.gcp.network import Egress, GcpNetwork, GcpNetworkArgs, NetworkArgsError
from llmops.components.gcp.servers import GcpK3sServers, GcpK3sServersArgs

__all__ = [
    "Egress",
    "GcpGpuNodePool",
    "GcpGpuNodePoolArgs",
    "GcpK3sServers",
    "GcpK3sServersArgs",
    "GcpNetwork",
    "GcpNetworkArgs",
    "GpuMachine",
    "MachineTypeError",
    "NetworkArgsError",
    "TerminationAction",
    "gpu_machine",
]
