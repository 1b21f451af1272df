"""Checks of a K3s cluster whose pools span clouds (infra/multicloud.py), with key paths. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from llmops.components.cloud import kit
from llmops.components.errors import Problem
from llmops.infra.config.models import K3sClusterConfig, ModelConfig, PoolConfig, StackConfig


def spanning_problems(cluster: K3sClusterConfig, pools: Sequence[PoolConfig]) -> list[Problem]:
    outside = [(i, pool) for i, pool in enumerate(pools) if pool.cloud is not cluster.cloud]
    if not outside:
        return []
    problems: list[Problem] = []
    first, pool = outside[0]
    if not cluster.wireguard:
        problems.append(
            Problem(
                "cluster.wireguard",
                False,
                f"leaves WireGuard off, but pools[{first}] ({pool.name!r}) runs on {pool.cloud.value}, "
                f"outside cluster.cloud {cluster.cloud.value!r}; nodes in different clouds reach each "
                "other only over the internet, encrypted by WireGuard",
                f"set cluster.wireguard: true, or move pools[{first}] to {cluster.cloud.value}",
            )
        )
    reason = kit(cluster.cloud).cross_cloud_servers_unavailable
    if reason:
        clouds = sorted({p.cloud.value for _, p in outside})
        problems.append(
            Problem(
                "cluster.cloud",
                cluster.cloud.value,
                f"cannot host the servers of a cluster with pools on {', '.join(clouds)}: {reason}",
                f"set cluster.cloud: {clouds[0]}, or keep every pool on {cluster.cloud.value}",
            )
        )
    for i, pool in enumerate(pools):
        limit = kit(pool.cloud).max_node_addresses
        if limit is not None and pool.max > limit:
            problems.append(
                Problem(
                    f"pools[{i}].max",
                    pool.max,
                    f"is more static node addresses than one {kit(pool.cloud).display_name} pool of a "
                    f"cluster spanning clouds reserves (at most {limit})",
                    f"set max <= {limit}, or split the pool in two",
                )
            )
    return problems


def store_problems(config: StackConfig) -> list[Problem]:
    """The servers' cloud's own model store reaches its own nodes only: refused when a model runs
    on pools in another cloud (NFS across the internet, unencrypted, is not offered)."""
    from llmops.infra.model_store_config import StoreKind, store_kind

    cluster = config.cluster
    if not isinstance(cluster, K3sClusterConfig) or store_kind(config) is not StoreKind.EFS:
        return []
    clouds = {pool.name: pool.cloud for pool in config.pools}
    for i, model in enumerate(config.models):
        names = list(model.pools) or ([model.pool] if model.pool else [])
        elsewhere = [name for name in names if clouds.get(name, cluster.cloud) is not cluster.cloud]
        if elsewhere:
            return [
                Problem(
                    "modelStore.kind",
                    StoreKind.EFS.value,
                    f"is reachable from {cluster.cloud.value} nodes only, but models[{i}] ({model.name!r}) "
                    f"may run on {elsewhere[0]!r} in {clouds[elsewhere[0]].value}",
                    "set llmops:modelStore: {kind: none} (each node downloads the weights), or keep the "
                    "model's pools in the servers' cloud",
                )
            ]
    return []


def model_pools_problems(models: Sequence[ModelConfig], pools: Sequence[PoolConfig]) -> list[Problem]:
    """`models[i].pools`: known pools, each once, all of the first one's GPU (one sizing fits all)."""
    by_name = {pool.name: pool for pool in pools}
    problems: list[Problem] = []
    for i, model in enumerate(models):
        if not model.pools:
            continue
        if model.pool is not None and model.pool != model.pools[0]:
            problems.append(
                Problem(
                    f"models[{i}].pool",
                    model.pool,
                    f"differs from the first of models[{i}].pools ({model.pools[0]!r})",
                    "remove pool (the first of pools is the model's pool), or list it first",
                )
            )
        first = by_name.get(model.pools[0])
        seen: set[str] = set()
        for j, name in enumerate(model.pools):
            at = f"models[{i}].pools[{j}]"
            if name in seen:
                problems.append(Problem(at, name, "is listed twice", "list each pool once"))
            seen.add(name)
            pool = by_name.get(name)
            if pool is None:
                listing = ", ".join(sorted(by_name)) or "none defined"
                problems.append(
                    Problem(at, name, f"is not a pool of this stack (pools: {listing})", "name one of them")
                )
            elif first is not None and pool.gpu_type != first.gpu_type:
                problems.append(
                    Problem(
                        at,
                        name,
                        f"carries {pool.gpu_type} GPUs, the model's first pool {first.name!r} "
                        f"{first.gpu_type}; the model is sized for one GPU",
                        f"list only pools of {first.gpu_type} GPUs",
                    )
                )
    return problems
