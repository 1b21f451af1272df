"""cluster-autoscaler for a K3s cluster on AWS: the release, and its IAM policy on the servers' role."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.config import StackConfig


def aws_cluster_autoscaler(
    config: StackConfig, cluster_name: str, servers: object, provider: k8s.Provider
) -> pulumi.ComponentResource:
    """The autoscaler resizing every pool of the stack, running on the K3s servers under their role."""
    from components.addons.cluster_autoscaler import (
        ClusterAutoscaler,
        ClusterAutoscalerArgs,
        NodeGroup,
        name_pattern,
    )
    from components.aws.autoscaler import attach_cluster_autoscaler_policy
    from components.aws.servers import AwsK3sServers

    assert isinstance(servers, AwsK3sServers)
    if servers.role is None:
        raise RuntimeError("the K3s servers have no role yet; create the cluster first")
    attach_cluster_autoscaler_policy(f"{cluster_name}-servers", servers.role, cluster_name)
    groups = [
        # AwsGpuNodePool names its group `<pool>-group`; Pulumi appends a random hex suffix.
        NodeGroup(
            pool=pool.name,
            capacity=pool.capacity.value,
            group_name_pattern=name_pattern(f"{pool.name}-group"),
            fallback_pool=pool.fallback_pool,
        )
        for pool in config.pools
    ]
    return ClusterAutoscaler(
        f"{cluster_name}-nodes",
        ClusterAutoscalerArgs(
            provider=provider,
            cluster_name=cluster_name,
            region=pulumi.Config("aws").get("region") or "us-east-1",
            node_groups=groups,
            idle_s=config.node_autoscaling.idle_s,
        ),
    )
