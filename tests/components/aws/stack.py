"""An `aws-dev`-shaped composition of the components, for the tests (the real one is infra/)."""

from __future__ import annotations

from typing import Any

from components.aws import (
    AwsGpuNodePool,
    AwsGpuNodePoolArgs,
    AwsK3sServers,
    AwsK3sServersArgs,
    AwsNetwork,
    AwsNetworkArgs,
    SpotInterruptionHandler,
    SpotInterruptionHandlerArgs,
)
from components.k3s import Capacity, K3sCluster, K3sClusterArgs, ScalingSchedule

ALLOWED_CIDR = "198.51.100.0/24"


def build_aws_dev(*, server_count: int = 1) -> dict[str, Any]:
    network = AwsNetwork(
        "dev-net",
        AwsNetworkArgs(api_allowed_cidrs=[ALLOWED_CIDR], api_load_balancer=server_count > 1),
    )
    cluster = K3sCluster(
        "dev",
        K3sClusterArgs(host=AwsK3sServers(AwsK3sServersArgs(network=network)), server_count=server_count),
    )
    spot = AwsGpuNodePool(
        "l4-spot",
        AwsGpuNodePoolArgs(
            network=network,
            join=cluster.agent_join,
            instance_types=["g6.xlarge", "g6.2xlarge", "g6.4xlarge"],
            capacity=Capacity.SPOT,
            min_size=0,
            max_size=4,
            desired_size=1,
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
    fallback = AwsGpuNodePool(
        "l4-on-demand",
        AwsGpuNodePoolArgs(
            network=network,
            join=cluster.agent_join,
            instance_types=["g6.xlarge"],
            capacity=Capacity.ON_DEMAND,
            min_size=0,
            max_size=2,
        ),
    )
    mixed = AwsGpuNodePool(
        "l4-mixed",
        AwsGpuNodePoolArgs(
            network=network,
            join=cluster.agent_join,
            instance_types=["g6.xlarge", "g5.xlarge"],
            capacity=Capacity.MIXED,
            on_demand_base=1,
            min_size=1,
            max_size=3,
        ),
    )
    handler = SpotInterruptionHandler("spot", SpotInterruptionHandlerArgs(provider=cluster.provider))
    return {
        "network": network,
        "cluster": cluster,
        "pools": {"spot": spot, "fallback": fallback, "mixed": mixed},
        "handler": handler,
        "outputs": {
            "kubeconfig": cluster.kubeconfig,
            "api_endpoint": cluster.api_endpoint,
            "server_ca": cluster.certificate_authorities["server-ca"].cert_pem,
            "client_ca": cluster.certificate_authorities["client-ca"].cert_pem,
            "admin_cert": cluster.admin_certificate.cert_pem,
            "agent_token": cluster.agent_join.agent_token,
        },
    }
