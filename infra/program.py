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
from llmops.components.capacity.scaling import PLANNING_MIX
from llmops.components.serving import (
    DEFAULT_IMAGE,
    DemandForecast,
    EngineSpec,
    VllmModel,
    VllmModelArgs,
    WritablePath,
    pod_security,
)
from llmops.infra.config import (
    OBSERVABILITY_INSTANCE,
    ExistingClusterConfig,
    K3sClusterConfig,
    ModelConfig,
    ObservabilityConfig,
    PoolConfig,
    StackConfig,
    load_from_pulumi,
)
from llmops.infra.config.fields import network_spec, pool_args

__all__ = [
    "cluster_provider",
    "k3s_cluster",
    "model_args",
    "network_spec",
    "observability_args",
    "pool_args",
    "run",
]

if TYPE_CHECKING:
    from llmops.components.addons.gpu_operator import GpuOperatorArgs
    from llmops.components.observability import ObservabilityStackArgs
    from llmops.components.serving.autoscaling import AutoscalingSpec


def run(config: StackConfig | None = None) -> None:
    """Build the stack. Config is validated in full before the first resource is registered."""
    config = config if config is not None else load_from_pulumi()
    from llmops.infra import model_store

    store_parts: list[model_store.CloudStoreParts] = []
    provider = cluster_provider(config, store_parts)
    k8s_opts = pulumi.ResourceOptions(provider=provider)

    namespace = k8s.core.v1.Namespace(
        "namespace",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=config.namespace,
            labels={"app.kubernetes.io/managed-by": "llmops", **pod_security.RESTRICTED_NAMESPACE_LABELS},
        ),
        opts=k8s_opts,
    )
    namespace_name = namespace.metadata.apply(lambda m: m.name or config.namespace)

    endpoints: dict[str, pulumi.Output[str]] = {}
    monitoring: list[pulumi.Resource] = []
    if config.observability.enabled:
        from llmops.components.observability import ObservabilityStack

        stack = ObservabilityStack(
            OBSERVABILITY_INSTANCE,
            observability_args(config.observability, config.pools, stack_region(config)),
            opts=k8s_opts,
        )
        # ServiceMonitors need the Prometheus Operator's CRDs, which the release installs.
        monitoring.append(stack.kube_prometheus_stack)
        pulumi.export("grafanaService", stack.grafana_service)
        pulumi.export("grafanaAdminPassword", stack.grafana_admin_password)
        pulumi.export("prometheusUrl", stack.prometheus_url)

    # Pods requesting nvidia.com/gpu wait for the operator that makes nodes advertise it.
    gpu_ready: list[pulumi.Resource] = []
    if config.gpu_operator.is_on(config.cluster):
        from llmops.components.addons.gpu_operator import GpuOperator

        operator = GpuOperator(GPU_OPERATOR_INSTANCE, gpu_operator_args(config, monitoring), opts=k8s_opts)
        gpu_ready.append(operator.release)
    if any(model.autoscaling is not None for model in config.models):
        from llmops.components.addons.keda import Keda, KedaArgs

        keda = Keda(KEDA_INSTANCE, KedaArgs(provider=provider), opts=k8s_opts)
        # ScaledObjects need KEDA's CRDs, which the release installs.
        monitoring.append(keda.release)
    if config.network_policies.enabled:
        network_policies(config, namespace_name, k8s_opts, monitoring)

    pools = {pool.name: pool for pool in config.pools}
    store = model_store.build_store(config, provider, namespace_name, store_parts[0] if store_parts else None)
    from llmops.components.serving.vllm_model import pinned_image
    from llmops.infra.serving_images import serving_image, with_image

    stack_image = serving_image(config, store_parts[0].pools if store_parts else [])
    images: list[pulumi.Input[str]] = []
    for model in config.models:
        args = with_image(model, model_args(model, namespace_name, pools, config.observability), stack_image)
        args = model_store.serve_from_store(config, model, args, store, provider, namespace_name)
        args = model_store.with_estimated_startup(config, model, args)
        images.append(pinned_image(args.image, args.image_digest))
        served = VllmModel(
            model.name,
            args,
            opts=pulumi.ResourceOptions(
                providers={"kubernetes": provider}, depends_on=[*monitoring, *gpu_ready]
            ),
        )
        endpoints[model.name] = served.endpoint

    if config.pools:
        model_store.pre_pull(config, images, provider, namespace_name)
    if store is not None:
        pulumi.export("modelStore", model_store.store_summary(config, pools))
    pulumi.export("namespace", namespace_name)
    pulumi.export("endpoints", endpoints)


# Instance name of the Keda add-on; its release is `<this>-keda`.
KEDA_INSTANCE = "autoscaling"


def network_policies(
    config: StackConfig,
    namespace: pulumi.Input[str],
    k8s_opts: pulumi.ResourceOptions,
    monitoring: Sequence[pulumi.Resource],
) -> None:
    """Default-deny ingress in the serving namespace (the model port open to the named namespaces)
    and, with observability, in the monitoring namespace."""
    from llmops.components.network_policies import IngressOpening, namespace_policies
    from llmops.components.serving.vllm_args import PORT
    from llmops.components.serving.vllm_model import selector_labels

    observability = config.observability
    serving_from = config.network_policies.serving_from
    if serving_from is None:
        serving_from = [config.namespace] + ([observability.namespace] if observability.enabled else [])
    model_pods = {"app.kubernetes.io/name": selector_labels("")["app.kubernetes.io/name"]}
    namespace_policies(
        "serving",
        namespace,
        [
            IngressOpening(
                "allow-model-port", from_namespaces=serving_from, ports=[PORT], pod_labels=model_pods
            )
        ],
        k8s_opts,
    )
    if not observability.enabled:
        return
    openings = [
        IngressOpening("allow-same-namespace"),
        # The API server calls the Prometheus operator's admission webhook from the host network.
        IngressOpening(
            "allow-operator-webhook", ports=[PROMETHEUS_OPERATOR_WEBHOOK_PORT], from_anywhere=True
        ),
    ]
    monitoring_from = list(config.network_policies.monitoring_from)
    if any(model.autoscaling is not None for model in config.models):
        from llmops.components.addons.keda import DEFAULT_NAMESPACE as KEDA_NAMESPACE

        # KEDA's operator queries Prometheus for the ScaledObjects' Prometheus triggers.
        if KEDA_NAMESPACE not in monitoring_from:
            monitoring_from.append(KEDA_NAMESPACE)
    if monitoring_from:
        openings.append(IngressOpening("allow-named-namespaces", from_namespaces=monitoring_from))
    namespace_policies(
        "monitoring",
        observability.namespace,
        openings,
        pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=list(monitoring))),
    )


# The kube-prometheus-stack operator serves its admission webhook on this container port.
PROMETHEUS_OPERATOR_WEBHOOK_PORT = 10250


def cluster_provider(config: StackConfig, store_parts: list[Any] | None = None) -> k8s.Provider:
    """The Kubernetes provider every kube-layer resource is created with."""
    cluster = config.cluster
    if isinstance(cluster, ExistingClusterConfig):
        # The provider reads the file itself (a path or inline YAML); without one it
        # falls back to $KUBECONFIG and ~/.kube/config, as kubectl does.
        # Inline kubeconfigs carry credentials: keep them out of state and plan output.
        kubeconfig = pulumi.Output.secret(cluster.kubeconfig) if cluster.kubeconfig else None
        return k8s.Provider("cluster", kubeconfig=kubeconfig, context=cluster.context)
    return k3s_cluster(config, cluster, store_parts)


def k3s_cluster(
    config: StackConfig, cluster: K3sClusterConfig, store_parts: list[Any] | None = None
) -> k8s.Provider:
    """Network, K3s servers, GPU pools and spot handling on the cluster's cloud; returns its provider."""
    from llmops.components.cloud import kit
    from llmops.components.k3s import K3S_VERSION, Capacity, FlannelBackend, K3sCluster, K3sClusterArgs
    from llmops.components.pools import GpuNodePoolArgs
    from llmops.infra import multicloud

    cloud = kit(cluster.cloud)
    stack = pulumi.get_stack()
    autoscaled = autoscaled_pool_names(config)
    if multicloud.spans_clouds(config):
        spanning = multicloud.build(config, cluster, stack, autoscaled=autoscaled)
        k3s, servers, gpu_pools = spanning.k3s, spanning.servers, spanning.pools
        network = spanning.networks[cluster.cloud.value]
        pulumi.export("nodeAddresses", multicloud.address_export(config, spanning))
        pulumi.export("nodeAutoscaling", multicloud.autoscaling_summary(config))
    else:
        flannel = FlannelBackend.WIREGUARD_NATIVE if cluster.wireguard else FlannelBackend.VXLAN
        network = cloud.network(stack, network_spec(cluster))
        servers = cloud.server_host(
            network, cluster.server_instance_type, session_manager=cluster.session_manager
        )
        k3s = K3sCluster(
            stack,
            K3sClusterArgs(
                host=servers,
                server_count=cluster.servers,
                flannel_backend=flannel,
                k3s_version=cluster.version or K3S_VERSION,
            ),
        )
        gpu_pools = [
            kit(pool.cloud).gpu_pool(
                pool.name,
                network,
                k3s.agent_join,
                GpuNodePoolArgs(**pool_args(pool), node_autoscaled=pool.name in autoscaled),
                session_manager=cluster.session_manager,
            )
            for pool in config.pools
        ]
    if store_parts is not None:
        from llmops.infra.model_store import CloudStoreParts

        # The cloud's model store admits NFS from this network's nodes and grants the GPU pools.
        store_parts.append(
            CloudStoreParts(
                network=network,
                pools=[p for p, c in zip(gpu_pools, config.pools, strict=True) if c.cloud is cluster.cloud],
            )
        )
    if autoscaled:
        from llmops.components.cloud import ScalablePool

        cloud.cluster_autoscaler(
            stack,
            servers,
            k3s.provider,
            # One cloud provider per cluster-autoscaler: the servers' cloud's pools (docs/multicloud.md).
            [
                ScalablePool(p.name, p.capacity.value, p.fallback_pool, pool=built)
                for p, built in zip(config.pools, gpu_pools, strict=True)
                if p.name in autoscaled
            ],
            idle_s=config.node_autoscaling.idle_s,
        )
    for used in multicloud.used_clouds(config):
        if any(p.cloud.value == used and p.capacity is not Capacity.ON_DEMAND for p in config.pools):
            # The cloud's handler cordons and drains on the spot notice, before the machine is gone.
            name = f"{stack}-spot" if used == cluster.cloud.value else f"{stack}-{used}-spot"
            kit(used).spot_termination_handler(name, k3s.provider)
    pulumi.export("apiEndpoint", k3s.api_endpoint)
    pulumi.export("kubeconfig", k3s.kubeconfig)
    return k3s.provider


# Name of the GpuOperator instance; its Helm release derives from it.
GPU_OPERATOR_INSTANCE = "gpu"


def gpu_driver_needed(config: StackConfig) -> bool:
    """Whether a pool boots an image without the NVIDIA driver; each pool's cloud kit says."""
    if isinstance(config.cluster, ExistingClusterConfig):
        return False  # nodes you bring come with their driver unless llmops:gpuOperator.driver says otherwise
    from llmops.components.cloud import kit

    return any(not kit(pool.cloud).image_ships_gpu_driver for pool in config.pools)


def gpu_operator_args(config: StackConfig, monitoring: Sequence[pulumi.Resource] = ()) -> GpuOperatorArgs:
    from llmops.components.addons.gpu_operator import (
        ContainerRuntimeMode,
        GpuOperatorArgs,
        MigStrategy,
        TimeSlicing,
    )

    settings = config.gpu_operator
    replicas = settings.time_slicing_replicas
    return GpuOperatorArgs(
        namespace=settings.namespace,
        install_driver=settings.driver if settings.driver is not None else gpu_driver_needed(config),
        runtime_mode=ContainerRuntimeMode(settings.runtime),
        service_monitor=config.observability.enabled,
        monitoring_crds=list(monitoring),
        scrape_interval=config.observability.scrape_interval,
        time_slicing=TimeSlicing(replicas=replicas) if replicas is not None else None,
        mig_strategy=MigStrategy(settings.mig_strategy),
    )


def node_autoscaling_wanted(config: StackConfig) -> bool:
    """cluster-autoscaler runs when asked, or by default when a model autoscales on built pools."""
    wanted = config.node_autoscaling.enabled
    if wanted is None:
        wanted = any(model.autoscaling is not None for model in config.models)
    if not (wanted and isinstance(config.cluster, K3sClusterConfig) and config.pools):
        return False
    from llmops.components.cloud import kit

    # Asked for explicitly, the config refuses a cloud without one; by default it is left out.
    if kit(config.cluster.cloud).node_autoscaler_unavailable is not None:
        return False
    if config.node_autoscaling.enabled:
        return True
    # By default, also left out where a pool cannot be resized by it (the kit's pool check says,
    # e.g. a group whose own schedules hold its size), rather than failing a stack that asked only
    # for KEDA.
    from llmops.components.pools import GpuNodePoolArgs
    from llmops.infra.config.fields import POOL_KEYS
    from llmops.infra.multicloud import autoscaled_pools

    return not any(
        kit(pool.cloud).validate_pool(
            pool.name, GpuNodePoolArgs(**pool_args(pool), node_autoscaled=True), path="", keys=POOL_KEYS
        )
        for pool in autoscaled_pools(config)
    )


def autoscaled_pool_names(config: StackConfig) -> set[str]:
    """The pools cluster-autoscaler resizes: none without node autoscaling; else the servers' cloud's
    pools (all of them in a one-cloud stack; docs/multicloud.md)."""
    if not node_autoscaling_wanted(config):
        return set()
    from llmops.infra.multicloud import autoscaled_pools

    return {pool.name for pool in autoscaled_pools(config)}


def stack_region(config: StackConfig) -> str | None:
    """Region of the cloud the stack's pools run in, from the program's provider config."""
    from llmops.components.cloud import kit

    clouds = {pool.cloud for pool in config.pools}
    return kit(next(iter(clouds))).region() if len(clouds) == 1 else None


def observability_args(
    observability: ObservabilityConfig, pools: Sequence[PoolConfig] = (), region: str | None = None
) -> ObservabilityStackArgs:
    from llmops.components.observability import ObservabilityStackArgs
    from llmops.infra.costing import gpu_prices

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
        gpu_price_per_hour=gpu_prices(pools, region) if pools else {},
    )


# Token mix the forecast's per-token costs assume (the one the reactive working batch assumes too).
FORECAST_MIX = PLANNING_MIX
# Start-up time of a model the capacity catalog does not know, when the stack sets none.
DEFAULT_STARTUP_S = 180


def demand_forecast(model: ModelConfig, pools: Mapping[str, PoolConfig]) -> DemandForecast | None:
    """Per-token replica costs from the capacity model; None where the model or GPU is not in its catalog."""
    from llmops.components.capacity import TokenMix, replica_capacity, replica_perf
    from llmops.components.capacity.catalog import CatalogError

    pool = pools.get(model.pool) if model.pool else None
    gpu = model.gpu_type or (pool.gpu_type if pool else None)
    if gpu is None:
        return None
    try:
        perf = replica_perf(
            model.source,
            gpu,
            model.tensor_parallel_size,
            max_model_len=model.max_model_len,
            dtype=model.dtype.value,
            quantization=model.quantization.value if model.quantization else None,
            kv_cache_dtype=model.kv_cache_dtype,
        )
    except CatalogError:
        return None
    capacity = replica_capacity(perf, TokenMix(*FORECAST_MIX))
    return DemandForecast(
        prefill_s_per_token=capacity.prefill_s_per_token,
        decode_s_per_token=capacity.decode_s_per_token,
        startup_s=model.startup_s or DEFAULT_STARTUP_S,
    )


def model_args(
    model: ModelConfig,
    namespace: pulumi.Input[str],
    pools: Mapping[str, PoolConfig] | None = None,
    observability: ObservabilityConfig | None = None,
) -> VllmModelArgs:
    """Map one model's stack config onto the serving component's args."""
    pools = pools or {}
    monitored = observability is not None and observability.enabled
    from llmops.infra.autoscaling import even_pools, even_spread_key, model_pools

    node_pools = [pool.name for pool in model_pools(model, pools)] or ([model.pool] if model.pool else [])
    even = even_pools(model, pools)
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
            kv_cache_dtype=model.kv_cache_dtype,
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
        even_pools=max(1, len(even)),
        spread_over=(even_spread_key(even),) if len(even) > 1 else None,
        startup_timeout_s=model.startup_timeout_s,
        hf_token_secret=model.hf_token_secret,
        api_key_secret=model.api_key_secret,
        progress_probe=model.progress_probe,
        stall_seconds=model.stall_seconds,
        image=model.image or DEFAULT_IMAGE,
        image_digest=model.image_digest,
        writable_paths=[WritablePath(w.path, w.size_limit) for w in model.writable_paths],
        service_monitor=monitored,
        scrape_interval=observability.vllm_scrape_interval if observability else "2s",
        demand_forecast=demand_forecast(model, pools) if monitored else None,
        autoscaling=autoscaling_spec(model, pools, observability) if observability else None,
    )


def autoscaling_spec(
    model: ModelConfig, pools: Mapping[str, PoolConfig], observability: ObservabilityConfig
) -> AutoscalingSpec | None:
    """The model's autoscaling, querying the stack's own Prometheus."""
    from llmops.components.observability.charts import PROMETHEUS_PORT, ReleaseNames
    from llmops.infra import autoscaling

    service = ReleaseNames.for_instance(OBSERVABILITY_INSTANCE).prometheus_service
    url = f"http://{service}.{observability.namespace}.svc:{PROMETHEUS_PORT}"
    return autoscaling.autoscaling_spec(model, pools, observability, url)
