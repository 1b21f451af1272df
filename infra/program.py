"""The llmops program: compose components from a validated StackConfig.

This is the only module that knows about stacks. `pulumi up` runs it through
`infra/__main__.py`; `llmops plan` runs the very same `run()` under Pulumi's mock
engine.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.serving import DEFAULT_IMAGE, EngineSpec, VllmModel, VllmModelArgs
from infra.config import ExistingClusterConfig, ModelConfig, StackConfig, load_from_pulumi

POOL_LABEL = "llmops.io/pool"


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
    for model in config.models:
        served = VllmModel(
            model.name,
            model_args(model, namespace_name),
            opts=pulumi.ResourceOptions(providers={"kubernetes": provider}),
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
    raise NotImplementedError(f"cluster.kind {cluster.kind!r} is not built by this version of llmops")


def model_args(model: ModelConfig, namespace: pulumi.Input[str]) -> VllmModelArgs:
    """Map one model's stack config onto the serving component's args."""
    node_selector = dict(model.node_selector)
    if model.pool is not None:
        node_selector[POOL_LABEL] = model.pool
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
        node_selector=node_selector,
        startup_timeout_s=model.startup_timeout_s,
        hf_token_secret=model.hf_token_secret,
        image=model.image or DEFAULT_IMAGE,
    )
