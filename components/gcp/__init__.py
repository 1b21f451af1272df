"""GCP cloud layer: network, K3s servers on Compute Engine, GPU node pools in managed instance groups,
the Filestore model store."""

from llmops.components.gcp.gpu_pool import GcpGpuNodePool, GcpGpuNodePoolArgs, TerminationAction
from llmops.components.gcp.machines import GpuMachine, MachineTypeError, gpu_machine
from llmops.components.gcp.model_store import FilestoreTier, GcpModelStore, GcpModelStoreArgs
from llmops.components.gcp.network import Egress, GcpNetwork, GcpNetworkArgs, NetworkArgsError
from llmops.components.gcp.servers import GcpK3sServers, GcpK3sServersArgs

__all__ = [
    "Egress",
    "FilestoreTier",
    "GcpGpuNodePool",
    "GcpGpuNodePoolArgs",
    "GcpK3sServers",
    "GcpK3sServersArgs",
    "GcpModelStore",
    "GcpModelStoreArgs",
    "GcpNetwork",
    "GcpNetworkArgs",
    "GpuMachine",
    "MachineTypeError",
    "NetworkArgsError",
    "TerminationAction",
    "gpu_machine",
]
