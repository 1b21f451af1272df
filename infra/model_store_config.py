"""`llmops:modelStore`: where model weights are kept once for every replica.

kinds: `efs` and `filestore` (the cloud's own store, which its kit builds beside a K3s cluster
this stack creates; the default there), `nfs` (an NFS export you run: server and path), `pvc`
(an existing ReadWriteMany claim in the stack's namespace) and `none` (every replica downloads
from the hub, the default for `kind: existing` clusters). Pure: no Pulumi imports.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from llmops.components.serving.download import is_git_ref
from llmops.infra.config_block import ConfigBlock
from pydantic import Field

if TYPE_CHECKING:
    from llmops.infra.config import ModelConfig, StackConfig

GIB = 1024**3
DEFAULT_REVISION = "main"


class StoreKind(StrEnum):
    EFS = "efs"
    FILESTORE = "filestore"
    AZUREFILES = "azurefiles"
    NFS = "nfs"
    PVC = "pvc"
    NONE = "none"


CLOUD_KINDS = frozenset({StoreKind.EFS, StoreKind.FILESTORE, StoreKind.AZUREFILES})
"""Kinds a cloud kit builds itself (its `model_store_kind`)."""


def is_cloud_kind(kind: StoreKind) -> bool:
    return kind in CLOUD_KINDS


class ModelStoreConfig(ConfigBlock):
    """The shared model store (the cloud kit's store, components/addons/nfs_store.py, or a claim)."""

    kind: StoreKind | None = Field(
        None,
        description="efs, filestore, azurefiles, nfs, pvc or none; default: the cloud kit's own store "
        "(efs, filestore, azurefiles) for a K3s cluster this stack builds, none for an existing cluster",
    )
    server: str | None = Field(None, description="kind nfs: NFS server name or address")
    path: str | None = Field(None, description="kind nfs: exported path")
    claim: str | None = Field(
        None, description="kind pvc: existing ReadWriteMany claim in the stack's namespace"
    )
    size_gi: int = Field(
        500,
        ge=1,
        le=1_000_000,
        description="space for the models, GiB; checked against them (kind azurefiles: the provisioned, "
        "billed size, at least 100)",
    )
    throughput_mode: Literal["elastic", "bursting", "provisioned"] = Field(
        "elastic", description="kind efs: EFS throughput metering (cost in the plan)"
    )
    provisioned_mibps: float = Field(0.0, ge=0, description="kind efs, throughput provisioned: MiB/s")
    pre_pull: bool = Field(True, description="keep the serving images on the GPU nodes (a DaemonSet)")
    wait_timeout_s: int = Field(
        3600, ge=60, le=86400, description="longest wait of a replica for its download"
    )


def store_kind(config: StackConfig) -> StoreKind:
    """The kind in effect: the stack's, or its cluster's default."""

    if config.model_store.kind is not None:
        return config.model_store.kind
    own = _cloud_store_kind(config)
    return StoreKind(own) if own else StoreKind.NONE


def _cloud_store_kind(config: StackConfig) -> str | None:
    """The kind of the store the cluster's cloud builds, for a K3s cluster this stack creates."""
    from llmops.components.cloud import kit
    from llmops.infra.config import K3sClusterConfig

    if not isinstance(config.cluster, K3sClusterConfig):
        return None
    return kit(config.cluster.cloud).model_store_kind


def stored_models(config: StackConfig) -> list[ModelConfig]:
    """Models whose weights the store holds: those from the hub (a path or bucket source is served as is)."""
    from llmops.infra.config.values import _HF_REPO

    if store_kind(config) is StoreKind.NONE:
        return []
    return [m for m in config.models if _HF_REPO.match(m.source)]


def revision_of(model: ModelConfig) -> str:
    return model.revision or DEFAULT_REVISION


def weights_gib(model: ModelConfig) -> float | None:
    """Catalog size of the model's weights; None for a model the catalog does not have."""
    from llmops.components.capacity.catalog import CatalogError
    from llmops.components.capacity.models import get_model

    try:
        spec = get_model(model.source)
        dtype = None if model.dtype.value == "auto" else model.dtype.value
        quantization = model.quantization.value if model.quantization is not None else None
        return spec.weight_bytes(dtype, quantization) / GIB
    except CatalogError:
        return None


def store_problems(config: StackConfig) -> list[tuple[str, Any, str, str]]:
    """(key path, value, problem, fix) for everything wrong with the store; the config module
    turns them into its Problem type."""
    from llmops.infra.config import _MISSING, ExistingClusterConfig

    store = config.model_store
    kind = store_kind(config)
    problems: list[tuple[str, Any, str, str]] = []
    for i, model in enumerate(config.models):
        if model.revision is not None and not is_git_ref(model.revision):
            problems.append(
                (
                    f"models[{i}].revision",
                    model.revision,
                    "is not a git branch, tag or commit name",
                    "use a branch such as 'main', a tag, or a 40-character commit id",
                )
            )
    if is_cloud_kind(kind) and _cloud_store_kind(config) != kind.value:
        problems.append(
            (
                "modelStore.kind",
                kind.value,
                f"needs a K3s cluster this stack builds on a cloud whose store is {kind.value} "
                "(cluster.kind k3s)",
                "use kind nfs (server, path), kind pvc (claim) or kind none",
            )
        )
    if kind is StoreKind.NFS:
        for key, value, example in (
            ("server", store.server, "10.0.0.5"),
            ("path", store.path, "/exports/models"),
        ):
            if not value:
                problems.append(
                    (
                        f"modelStore.{key}",
                        _MISSING,
                        "is required with kind nfs",
                        f"set modelStore.{key}, e.g. {example!r}, or use kind pvc with an existing claim",
                    )
                )
        if store.path and not store.path.startswith("/"):
            problems.append(
                (
                    "modelStore.path",
                    store.path,
                    "is not an absolute path",
                    "write the export like '/exports/models'",
                )
            )
    if kind is StoreKind.PVC and not store.claim:
        problems.append(
            (
                "modelStore.claim",
                _MISSING,
                "is required with kind pvc",
                "name an existing ReadWriteMany claim in the stack's namespace, or use kind nfs",
            )
        )
    if kind is not StoreKind.EFS and (store.throughput_mode != "elastic" or store.provisioned_mibps):
        problems.append(
            (
                "modelStore.throughputMode",
                store.throughput_mode,
                f"applies to kind efs only; this store is {kind.value!r}",
                "remove throughputMode and provisionedMibps",
            )
        )
    if kind is StoreKind.EFS and store.throughput_mode == "provisioned" and store.provisioned_mibps <= 0:
        problems.append(
            (
                "modelStore.provisionedMibps",
                store.provisioned_mibps,
                "must be > 0 with throughputMode provisioned",
                "give the MiB/s to provision, e.g. 256, or use throughputMode elastic",
            )
        )
    if isinstance(config.cluster, ExistingClusterConfig) and store.kind is None and store.server:
        problems.append(("modelStore.kind", _MISSING, "is missing; server is set", "add kind: nfs"))
    sizes: dict[tuple[str, str], float] = {}
    for model in stored_models(config):
        size = weights_gib(model)
        if size is not None:
            sizes[(model.source, revision_of(model))] = size
    total = sum(sizes.values())
    if kind is not StoreKind.NONE and total > store.size_gi:
        listing = ", ".join(f"{repo}@{rev} {size:.1f} GiB" for (repo, rev), size in sorted(sizes.items()))
        problems.append(
            (
                "modelStore.sizeGi",
                store.size_gi,
                f"is smaller than the models on it ({total:.1f} GiB: {listing})",
                f"set sizeGi to at least {int(total) + 1}, or serve fewer models from the store",
            )
        )
    return problems
