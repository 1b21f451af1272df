"""The model store of a stack: the claim (EFS, NFS or an existing one), a download Job per
model revision, the image pre-pull DaemonSet, and what the plan shows about them."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from llmops.components.serving import VllmModelArgs
from llmops.components.serving.model_store import (
    ImagePrePull,
    ImagePrePullArgs,
    ModelDownloadJob,
    ModelDownloadJobArgs,
    ModelStoreMount,
    revision_suffix,
)
from llmops.components.serving.vllm_model import pinned_image
from llmops.infra.config import ModelConfig, PoolConfig, StackConfig
from llmops.infra.model_store_config import (
    StoreKind,
    is_cloud_kind,
    revision_of,
    store_kind,
    stored_models,
    weights_gib,
)

STORE_INSTANCE = "model-store"


@dataclass(frozen=True)
class CloudStoreParts:
    """What the cluster hands its cloud's store: the network and the GPU pools whose nodes mount it."""

    network: Any
    pools: Sequence[pulumi.Resource]


@dataclass(frozen=True)
class Store:
    kind: StoreKind
    claim_name: pulumi.Input[str]


def build_store(
    config: StackConfig,
    provider: k8s.Provider,
    namespace: pulumi.Input[str],
    cloud_parts: CloudStoreParts | None,
) -> Store | None:
    """The stack's store claim, or None for kind none (or a stack with no model from the hub)."""
    kind = store_kind(config)
    settings = config.model_store
    if kind is StoreKind.NONE or not stored_models(config):
        return None
    opts = pulumi.ResourceOptions(provider=provider)
    if is_cloud_kind(kind):
        from llmops.components.cloud import kit
        from llmops.infra.config import K3sClusterConfig

        assert cloud_parts is not None and isinstance(config.cluster, K3sClusterConfig), (
            f"kind {kind.value} is validated to need a K3s cluster on a cloud with that store"
        )
        claim = kit(config.cluster.cloud).model_store(
            STORE_INSTANCE,
            cloud_parts.network,
            cloud_parts.pools,
            provider,
            namespace,
            size_gib=settings.size_gi,
            throughput_mode=settings.throughput_mode,
            provisioned_mibps=settings.provisioned_mibps,
        )
        return Store(kind, claim)
    if kind is StoreKind.NFS:
        from llmops.components.addons.nfs_store import NfsModelStore, NfsModelStoreArgs

        assert settings.server and settings.path
        nfs = NfsModelStore(
            STORE_INSTANCE,
            NfsModelStoreArgs(
                server=settings.server,
                path=settings.path,
                namespace=namespace,
                size_gib=settings.size_gi,
                provider=provider,
            ),
            opts=opts,
        )
        return Store(kind, nfs.claim_name)
    assert settings.claim
    return Store(kind, settings.claim)


def download_job_name(model: ModelConfig) -> str:
    return f"{model.name}-download-{revision_suffix(model.source, revision_of(model))}"


def serve_from_store(
    config: StackConfig,
    model: ModelConfig,
    args: VllmModelArgs,
    store: Store | None,
    provider: k8s.Provider,
    namespace: pulumi.Input[str],
) -> VllmModelArgs:
    """Create the model's download Job and point its replicas at the store; unchanged without one."""
    if store is None or model not in stored_models(config):
        return args
    revision = revision_of(model)
    ModelDownloadJob(
        f"{model.name}-download",
        ModelDownloadJobArgs(
            repo=model.source,
            revision=revision,
            namespace=namespace,
            claim_name=store.claim_name,
            model_name=model.name,
            image=pinned_image(args.image, args.image_digest),
            hf_token_secret=model.hf_token_secret,
            node_pools=list(args.node_pools),
        ),
        opts=pulumi.ResourceOptions(provider=provider),
    )
    mount = ModelStoreMount(
        claim_name=store.claim_name,
        repo=model.source,
        revision=revision,
        download_job=download_job_name(model),
        wait_timeout_s=config.model_store.wait_timeout_s,
    )
    return dataclasses.replace(args, model_store=mount)


def startup_estimate_s(config: StackConfig, model: ModelConfig) -> int | None:
    """Estimated seconds from a new pod to a ready replica of `model` in this stack (the store and
    pre-pull as configured); None for a model the catalog does not have."""
    from llmops.components.capacity.startup import WeightSource, estimate

    size = weights_gib(model)
    if size is None:
        return None
    source = _store_source(config) if model in stored_models(config) else None
    pre_pulled = bool(config.pools) and config.model_store.pre_pull and source is not None
    return round(estimate(size * 1024**3, source=source or WeightSource.HUB, pre_pulled=pre_pulled).total_s)


def with_estimated_startup(config: StackConfig, model: ModelConfig, args: VllmModelArgs) -> VllmModelArgs:
    """The forecast looks one estimated start-up ahead unless the stack sets `startupS`."""
    forecast = args.demand_forecast
    if forecast is None or model.startup_s is not None:
        return args
    estimated = startup_estimate_s(config, model)
    if estimated is None:
        return args
    return dataclasses.replace(args, demand_forecast=dataclasses.replace(forecast, startup_s=estimated))


def _store_source(config: StackConfig) -> Any:
    from llmops.components.capacity.startup import WeightSource

    kind = store_kind(config)
    if kind is StoreKind.EFS:
        return (
            WeightSource.EFS_BURSTING
            if config.model_store.throughput_mode == "bursting"
            else WeightSource.EFS_ELASTIC
        )
    if kind is StoreKind.FILESTORE:
        return WeightSource.FILESTORE_BASIC_HDD
    if kind is StoreKind.AZUREFILES:
        return WeightSource.AZUREFILES
    if kind in (StoreKind.NFS, StoreKind.PVC):
        return WeightSource.NFS
    return None


def pre_pull(
    config: StackConfig,
    images: Sequence[pulumi.Input[str]],
    provider: k8s.Provider,
    namespace: pulumi.Input[str],
) -> None:
    """Keep the serving images on the GPU pools' nodes (stacks with pools and a store)."""
    if not images or not config.model_store.pre_pull or store_kind(config) is StoreKind.NONE:
        return
    ImagePrePull(
        "image-pre-pull",
        ImagePrePullArgs(
            images=list(dict.fromkeys(images)),
            namespace=namespace,
            node_pools=[pool.name for pool in config.pools],
        ),
        opts=pulumi.ResourceOptions(provider=provider),
    )


def store_summary(config: StackConfig, pools: Mapping[str, PoolConfig]) -> dict[str, Any]:
    """What the plan prints about the store: kind, size, monthly cost (the cloud's own store), and each
    model's estimated start-up with and without the store."""
    from llmops.components.capacity.startup import WeightSource, estimate

    kind = store_kind(config)
    settings = config.model_store
    source = _store_source(config)
    summary: dict[str, Any] = {"kind": kind.value, "sizeGi": settings.size_gi if source else None}
    startup: dict[str, Any] = {}
    stored_gb = 0.0
    reads_per_month_gb = 0.0
    for model in config.models:
        size = weights_gib(model)
        if size is None:
            continue
        size_bytes = size * 1024**3
        on_store = source is not None and model in stored_models(config)
        without = estimate(size_bytes, source=WeightSource.HUB, pre_pulled=False)
        with_store = (
            estimate(size_bytes, source=source, pre_pulled=settings.pre_pull) if on_store and source else None
        )
        startup[model.name] = {
            "withoutStoreS": round(without.total_s),
            "withStoreS": round(with_store.total_s) if with_store else None,
            "parts": (with_store or without).to_json(),
        }
        if on_store:
            stored_gb += size_bytes / 1e9
            # One full read per replica start; a month of daily restarts per replica is the guess.
            reads_per_month_gb += size_bytes / 1e9 * max(model.replicas, 1) * 30
    summary["startUp"] = startup
    if is_cloud_kind(kind):
        from llmops.components.cloud import kit
        from llmops.infra.config import K3sClusterConfig

        assert isinstance(config.cluster, K3sClusterConfig)
        if kind is StoreKind.EFS:
            summary["throughputMode"] = settings.throughput_mode
        summary["monthlyCost"] = {
            **kit(config.cluster.cloud).model_store_cost(
                settings.throughput_mode,
                stored_gb,
                reads_per_month_gb,
                stored_gb,
                settings.provisioned_mibps,
                size_gib=settings.size_gi,
            ),
            "assumes": "each replica restarts once a day; the region's list prices",
        }
    return summary
