"""GCP cloud layer: network, K3s servers on Compute Engine, GPU node pools in managed instance groups."""

from components.gcp.gpu_pool import GcpGpuNodePool, GcpGpuNodePoolArgs, TerminationAction
from components.gcp.machines import GpuMachine, MachineTypeError, gpu_machine
from components.gcp.network import Egress, GcpNetwork, GcpNetworkArgs, NetworkArgsError
from components.gcp.servers import GcpK3sServers, GcpK3sServersArgs

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
