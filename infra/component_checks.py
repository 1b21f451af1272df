"""The components' own argument checks, run on the config before any resource exists.

The config model catches most problems with precise key paths; this is the net under it: each
component's validator runs on the args the program would pass, so anything a component would
refuse at deploy time is a config error first, with the component's own message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.config import Problem, StackConfig


def component_arg_errors() -> tuple[type[Exception], ...]:
    """Every error a component raises for bad args; the plan turns a stray one into a config error."""
    from components.aws.network import NetworkArgsError
    from components.k3s.cluster import ClusterArgsError
    from components.k3s.pool import PoolConfigError
    from components.observability.stack import ObservabilityStackArgsError
    from components.serving.vllm_model import VllmModelArgsError

    return (
        NetworkArgsError,
        ClusterArgsError,
        PoolConfigError,
        ObservabilityStackArgsError,
        VllmModelArgsError,
    )


def component_problems(config: StackConfig) -> list[Problem]:
    from components.k3s.pool import AWS_GPU_FAMILIES, GpuNodePoolArgs, validate_pool
    from components.serving.vllm_model import validate_args
    from infra.config import _MISSING, K3sClusterConfig, Problem
    from infra.program import model_args, pool_args

    problems: list[Problem] = []
    pools = {p.name: p for p in config.pools}
    for index, model in enumerate(config.models):
        args = model_args(model, config.namespace, pools, config.observability)
        problems += [
            Problem(f"models[{index}]", _MISSING, line, "") for line in validate_args(model.name, args)
        ]
    for index, pool in enumerate(config.pools):
        lines = validate_pool(
            GpuNodePoolArgs(**pool_args(pool)), path=f"pools[{index}]", families=AWS_GPU_FAMILIES
        )
        problems += [Problem(f"pools[{index}]", _MISSING, line, "") for line in lines]
    if isinstance(config.cluster, K3sClusterConfig):
        from components.aws.network import AwsNetworkArgs, validate_network_args
        from components.k3s.render import FlannelBackend

        cluster = config.cluster
        network = AwsNetworkArgs(
            api_allowed_cidrs=list(cluster.allowed_cidrs),
            flannel_backend=FlannelBackend.WIREGUARD_NATIVE if cluster.wireguard else FlannelBackend.VXLAN,
            api_load_balancer=cluster.servers > 1,
            allow_public_api=cluster.allow_public_api,
            max_public_share=cluster.max_public_share,
        )
        problems += [Problem("cluster", _MISSING, line, "") for line in validate_network_args(network)]
    return problems
