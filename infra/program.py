"""The llmops program: compose components from a validated StackConfig.

This is the only module that knows about stacks. `pulumi up` runs it through
`infra/__main__.py`; `llmops plan` runs the very same `run()` under Pulumi's mock
engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_kubernetes as k8s

from components.serving import DEFAULT_IMAGE, DemandForecast, EngineSpec, VllmModel, VllmModelArgs
from infra.config import (
    OBSERVABILITY_INSTANCE,
    ExistingClusterConfig,
    K3sClusterConfig,
    ModelConfig,
    ObservabilityConfig,
    PoolConfig,
    StackConfig,
    load_from_pulumi,
)

if TYPE_CHECKING:
    from components.observability import ObservabilityStackArgs


def run(config: StackConfig | None = None) -> None:
    """Build the stack. Config is validated in full before the first resource is registered."""
    config = config if config is not None else load_from_pulumi()
    provider = cluster_provider(config)
    k8s_opts = pulumi.ResourceOptions(provider=provider)

    namespace = k8s.core.v1.Namespace(
        "namespace",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=config.namespace, labels={"app.kubernetes.io/managed-by": "llmops"}
        ),
        opts=k8s_opts,
    )
    namespace_name = namespace.metadata.apply(lambda m: m.name or config.namespace)

    endpoints: dict[str, pulumi.Output[str]] = {}
    monitoring: list[pulumi.Resource] = []
    if config.observability.enabled:
        from components.observability import ObservabilityStack

        stack = ObservabilityStack(
            OBSERVABILITY_INSTANCE, observability_args(config.observability, config.pools), opts=k8s_opts
        )
        # ServiceMonitors need the Prometheus Operator's CRDs, which the release installs.
        monitoring.append(stack.kube_prometheus_stack)
        pulumi.export("grafanaService", stack.grafana_service)
        pulumi.export("grafanaAdminPassword", stack.grafana_admin_password)
        pulumi.export("prometheusUrl", stack.prometheus_url)

    pools = {pool.name: pool for pool in config.pools}
    for model in config.models:
        served = VllmModel(
            model.name,
            model_args(model, namespace_name, pools, config.observability),
            opts=pulumi.ResourceOptions(providers={"kubernetes": provider}, depends_on=monitoring),
        )
        endpoints[model.name] = served.endpoint

    pulumi.export("namespace", namespace_name)
    pulumi.export("endpoints", endpoints)


def cluster_provider(config: StackConfig) -> k8s.Provider:
    """The Kubernetes provider every kube-layer resource is created with."""
    cluster = config.cluster
    if isinstance(cluster, ExistingClusterConfig):
        # The provider reads the file itself (a path or inline YAML); without one it
        # falls back to $KUBECONFIG and ~/.kube/config, as kubectl does.
        # Inline kubeconfigs carry credentials: keep them out of state and plan output.
        kubeconfig = pulumi.Output.secret(cluster.kubeconfig) if cluster.kubeconfig else None
        return k8s.Provider("cluster", kubeconfig=kubeconfig, context=cluster.context)
    if cluster.cloud.value == "gcp":
        return gcp_k3s_cluster(config, cluster)
    return aws_k3s_cluster(config, cluster)


def aws_k3s_cluster(config: StackConfig, cluster: K3sClusterConfig) -> k8s.Provider:
    """Network, K3s servers, GPU pools and spot handling on AWS; returns the new cluster's provider."""
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
    from components.k3s import K3S_VERSION, Capacity, FlannelBackend, K3sCluster, K3sClusterArgs

    stack = pulumi.get_stack()
    flannel = FlannelBackend.WIREGUARD_NATIVE if cluster.wireguard else FlannelBackend.VXLAN
    network = AwsNetwork(
        stack,
        AwsNetworkArgs(
            api_allowed_cidrs=list(cluster.allowed_cidrs),
            flannel_backend=flannel,
            api_load_balancer=cluster.servers > 1,
        ),
    )
    k3s = K3sCluster(
        stack,
        K3sClusterArgs(
            host=AwsK3sServers(
                AwsK3sServersArgs(network=network, instance_type=cluster.server_instance_type)
            ),
            server_count=cluster.servers,
            flannel_backend=flannel,
            k3s_version=cluster.version or K3S_VERSION,
        ),
    )
    for pool in config.pools:
        AwsGpuNodePool(pool.name, AwsGpuNodePoolArgs(network=network, join=k3s.agent_join, **pool_args(pool)))
    if any(pool.capacity is not Capacity.ON_DEMAND for pool in config.pools):
        # Cordon and drain on the two-minute spot notice, before the machine is gone.
        SpotInterruptionHandler(f"{stack}-spot", SpotInterruptionHandlerArgs(provider=k3s.provider))
    pulumi.export("apiEndpoint", k3s.api_endpoint)
    pulumi.export("kubeconfig", k3s.kubeconfig)
    return k3s.provider


def gcp_k3s_cluster(config: StackConfig, cluster: K3sClusterConfig) -> k8s.Provider:
    """Network, K3s servers and GPU pools on GCP; returns the new cluster's provider.

    Spot preemption needs no handler here: every pool's agents run the kubelet's graceful node
    shutdown inside the 30 s notice (docs/decisions/100-gcp-spot-preemption.md).
    """
    from components.gcp import (
        GcpGpuNodePool,
        GcpGpuNodePoolArgs,
        GcpK3sServers,
        GcpK3sServersArgs,
        GcpNetwork,
        GcpNetworkArgs,
    )
    from components.gcp.servers import DEFAULT_MACHINE_TYPE
    from components.k3s import K3S_VERSION, FlannelBackend, K3sCluster, K3sClusterArgs

    stack = pulumi.get_stack()
    gcp_config = pulumi.Config("gcp")
    project, region = gcp_config.require("project"), gcp_config.require("region")
    flannel = FlannelBackend.WIREGUARD_NATIVE if cluster.wireguard else FlannelBackend.VXLAN
    network = GcpNetwork(
        stack,
        GcpNetworkArgs(
            api_allowed_cidrs=list(cluster.allowed_cidrs), regions=[region], flannel_backend=flannel
        ),
    )
    # serverInstanceType's default names an EC2 type; unset, the servers take the GCP default.
    machine_type = (
        cluster.server_instance_type
        if "server_instance_type" in cluster.model_fields_set
        else DEFAULT_MACHINE_TYPE
    )
    k3s = K3sCluster(
        stack,
        K3sClusterArgs(
            host=GcpK3sServers(
                GcpK3sServersArgs(network=network, project=project, machine_type=machine_type)
            ),
            server_count=cluster.servers,
            flannel_backend=flannel,
            k3s_version=cluster.version or K3S_VERSION,
        ),
    )
    for pool in config.pools:
        GcpGpuNodePool(
            pool.name,
            GcpGpuNodePoolArgs(
                network=network, join=k3s.agent_join, project=project, region=region, **pool_args(pool)
            ),
        )
    pulumi.export("apiEndpoint", k3s.api_endpoint)
    pulumi.export("kubeconfig", k3s.kubeconfig)
    return k3s.provider


def observability_args(
    observability: ObservabilityConfig, pools: Sequence[PoolConfig] = ()
) -> ObservabilityStackArgs:
    from components.observability import ObservabilityStackArgs
    from infra.costing import gpu_prices

    password = observability.grafana_admin_password
    return ObservabilityStackArgs(
        namespace=observability.namespace,
        enable_loki=observability.loki,
        enable_fluent_bit=observability.fluent_bit,
        enable_deepflow=observability.deepflow,
        grafana_admin_password=password,
        scrape_interval=observability.scrape_interval,
        evaluation_interval=observability.evaluation_interval,
        metrics_retention=observability.metrics_retention,
        prometheus_storage_size=observability.prometheus_storage_size,
        log_retention_hours=observability.log_retention_hours,
        loki_storage_size=observability.loki_storage_size,
        gpu_price_per_hour=gpu_prices(pools, _pools_region(pools)) if pools else {},
    )


def _pools_region(pools: Sequence[PoolConfig]) -> str | None:
    """The region the pools are priced in: the provider's region key of their cloud."""
    cloud = pools[0].cloud.value if pools else "aws"
    return pulumi.Config(cloud).get("region")


# Token mix the forecast's per-token costs assume: a chat-style request (the capacity
# model's documented default mix).
FORECAST_MIX = (1000.0, 200.0)


def demand_forecast(model: ModelConfig, pools: Mapping[str, PoolConfig]) -> DemandForecast | None:
    """Per-token replica costs from the capacity model; None where the model or GPU is not in its catalog."""
    from components.capacity import TokenMix, replica_capacity, replica_perf
    from components.capacity.catalog import CatalogError

    pool = pools.get(model.pool) if model.pool else None
    gpu = model.gpu_type or (pool.gpu_type if pool else None)
    if gpu is None:
        return None
    try:
        perf = replica_perf(model.source, gpu, model.tensor_parallel_size, max_model_len=model.max_model_len)
    except CatalogError:
        return None
    capacity = replica_capacity(perf, TokenMix(*FORECAST_MIX))
    return DemandForecast(
        prefill_s_per_token=1.0 / capacity.prefill_tokens_per_s,
        decode_s_per_token=capacity.decode_s_per_token,
        startup_s=model.startup_s,
    )


def pool_args(pool: PoolConfig) -> dict[str, Any]:
    """The cloud-neutral pool fields, from the stack config's names to the components' names."""
    from components.k3s import ScalingSchedule

    return {
        "instance_types": list(pool.instance_types),
        "capacity": pool.capacity,
        "on_demand_base": pool.on_demand_base,
        "min_size": pool.min,
        "max_size": pool.max,
        "desired_size": pool.desired,
        "disk_size_gb": pool.disk_gb,
        "labels": dict(pool.labels),
        "schedules": [
            ScalingSchedule(
                name=schedule.name,
                recurrence=schedule.cron,
                time_zone=schedule.timezone,
                min_size=sizes.min,
                max_size=sizes.max,
                desired_size=sizes.desired,
            )
            for schedule in pool.schedules
            for sizes in [schedule.sizes(pool)]
        ],
    }


def model_args(
    model: ModelConfig,
    namespace: pulumi.Input[str],
    pools: Mapping[str, PoolConfig] | None = None,
    observability: ObservabilityConfig | None = None,
) -> VllmModelArgs:
    """Map one model's stack config onto the serving component's args."""
    pools = pools or {}
    monitored = observability is not None and observability.enabled
    node_pools: list[str] = []
    if model.pool is not None:
        node_pools.append(model.pool)
        pool = pools.get(model.pool)
        if pool is not None and pool.fallback_pool:
            node_pools.append(pool.fallback_pool)
    return VllmModelArgs(
        engine=EngineSpec(
            model=model.source,
            revision=model.revision,
            served_model_name=model.served_model_name,
            tensor_parallel_size=model.tensor_parallel_size,
            pipeline_parallel_size=model.pipeline_parallel_size,
            max_model_len=model.max_model_len,
            dtype=model.dtype,
            quantization=model.quantization,
            gpu_memory_utilization=model.gpu_memory_utilization,
            enable_prefix_caching=model.enable_prefix_caching,
            max_num_seqs=model.max_num_seqs,
            extra_args=dict(model.extra_args),
        ),
        namespace=namespace,
        replicas=model.replicas,
        cpu=model.cpu,
        memory=model.memory,
        shm_size=model.shm_size,
        node_selector=dict(model.node_selector),
        node_pools=node_pools,
        startup_timeout_s=model.startup_timeout_s,
        hf_token_secret=model.hf_token_secret,
        progress_probe=model.progress_probe,
        stall_seconds=model.stall_seconds,
        image=model.image or DEFAULT_IMAGE,
        service_monitor=monitored,
        scrape_interval=observability.vllm_scrape_interval if observability else "2s",
        demand_forecast=demand_forecast(model, pools) if monitored else None,
    )
