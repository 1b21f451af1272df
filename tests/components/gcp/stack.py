"""A `gcp-dev`-shaped composition of the GCP components, for the tests."""

from __future__ import annotations

from typing import Any

from llmops.components.gcp import (
    GcpGpuNodePool,
    GcpGpuNodePoolArgs,
    GcpK3sServers,
    GcpK3sServersArgs,
    GcpNetwork,
    GcpNetworkArgs,
)
from llmops.components.k3s import Capacity, K3sCluster, K3sClusterArgs, ScalingSchedule

from tests.components.gcp.mocks import GCP_PROJECT

ALLOWED_CIDR = "198.51.100.0/24"


def build_gcp_dev() -> dict[str, Any]:
    network = GcpNetwork("dev-net", GcpNetworkArgs(api_allowed_cidrs=[ALLOWED_CIDR], regions=["us-central1"]))
    cluster = K3sCluster(
        "dev", K3sClusterArgs(host=GcpK3sServers(GcpK3sServersArgs(network=network, project=GCP_PROJECT)))
    )
    spot = GcpGpuNodePool(
        "l4-spot",
        GcpGpuNodePoolArgs(
            network=network,
            join=cluster.agent_join,
            project=GCP_PROJECT,
            instance_types=["g2-standard-8"],
            capacity=Capacity.SPOT,
            min_size=0,
            max_size=4,
            schedules=[
                ScalingSchedule(
                    name="workday",
                    recurrence="0 8 * * MON-FRI",
                    min_size=1,
                    max_size=4,
                    desired_size=2,
                    time_zone="Europe/Berlin",
                ),
                ScalingSchedule(
                    name="night",
                    recurrence="0 20 * * *",
                    min_size=0,
                    max_size=4,
                    desired_size=0,
                    time_zone="Europe/Berlin",
                ),
            ],
        ),
    )
    on_demand = GcpGpuNodePool(
        "t4-on-demand",
        GcpGpuNodePoolArgs(
            network=network,
            join=cluster.agent_join,
            project=GCP_PROJECT,
            instance_types=["n1-standard-8+T4x1"],
            capacity=Capacity.ON_DEMAND,
            min_size=0,
            max_size=2,
            desired_size=1,
        ),
    )
    return {
        "network": network,
        "cluster": cluster,
        "pools": [spot, on_demand],
        "outputs": {"kubeconfig": cluster.kubeconfig, "api": cluster.api_endpoint},
    }
