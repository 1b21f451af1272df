"""K3s cluster layer: servers with an in-program PKI, agents that join through cloud-init."""

from components.k3s.cluster import ClusterArgsError, K3sAgentJoin, K3sCluster, K3sClusterArgs
from components.k3s.host import K3sServerHost, ServerEndpoints
from components.k3s.pool import Capacity, GpuNodePoolArgs, PoolConfigError, ScalingSchedule, validate_pool
from components.k3s.render import GPU_TAINT, SERVER_TAINT, FlannelBackend, NodeExternalIp, NodeTaint
from components.k3s.versions import K3S_VERSION

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
    "NodeExternalIp",
    "NodeTaint",
    "PoolConfigError",
    "ScalingSchedule",
    "ServerEndpoints",
    "validate_pool",
]
