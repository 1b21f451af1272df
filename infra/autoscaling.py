"""From a model's `autoscaling:` config to its `AutoscalingSpec`, its capacity and its ceiling cost.

Pure Python (no Pulumi): the config checks, the program and the plan's cost report all read
the same numbers from here.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmops.components.capacity.cost import HOURS_PER_MONTH
from llmops.components.capacity.scaling import PLANNING_MIX
from llmops.components.serving.autoscaling import AutoscalingSpec, CronWindow
from llmops.infra.config import ModelConfig, ObservabilityConfig, PoolConfig, StackConfig

TOKEN_MIX = PLANNING_MIX
"""Token mix the working batch assumes: the one the demand forecast's per-token costs assume too."""


def model_pools(model: ModelConfig, pools: Mapping[str, PoolConfig]) -> list[PoolConfig]:
    """The pools the model's pods may run on, most preferred first: its `pools` list where it has
    one; otherwise its pool, then that pool's `fallbackPool`, then the fallback's own, and so on (a
    chain may cross clouds: spot on one, spot on another, on-demand on a third). Stops at a pool
    already listed."""
    if model.pools:
        return [pools[name] for name in dict.fromkeys(model.pools) if name in pools]
    out: list[PoolConfig] = []
    pool = pools.get(model.pool) if model.pool else None
    while pool is not None and all(pool is not seen for seen in out):
        out.append(pool)
        pool = pools.get(pool.fallback_pool) if pool.fallback_pool else None
    return out


def even_pools(model: ModelConfig, pools: Mapping[str, PoolConfig]) -> list[PoolConfig]:
    """The pools the model's replicas spread evenly over, equally preferred: with `placement:
    spread`, the leading pools of its order that share the first one's capacity (spot with spot);
    otherwise the first pool alone. The later pools stay fallbacks in order (decision 143)."""
    order = model_pools(model, pools)
    if model.placement != "spread":
        return order[:1]
    return list(itertools.takewhile(lambda pool: pool.capacity == order[0].capacity, order))


def even_spread_key(tier: Sequence[PoolConfig]) -> str:
    """The label the even spread counts replicas by: the cloud while each of the pools is in its own
    cloud, else the pool (two pools in one cloud would be one cloud domain)."""
    from llmops.components.serving.spread import CLOUD_LABEL, POOL_LABEL

    return CLOUD_LABEL if len({pool.cloud for pool in tier}) == len(tier) else POOL_LABEL


def model_gpu(model: ModelConfig, pools: Mapping[str, PoolConfig]) -> str | None:
    pool = pools.get(model.pool) if model.pool else None
    return model.gpu_type or (pool.gpu_type if pool else None)


def working_batch(model: ModelConfig, pools: Mapping[str, PoolConfig]) -> int | None:
    """Sequences one replica runs within the ITL SLO (capacity model), capped by maxNumSeqs; with
    the model or GPU outside the catalog, maxNumSeqs alone; None when neither is known."""
    from llmops.components.capacity import Slo, TokenMix, replica_capacity, replica_perf
    from llmops.components.capacity.catalog import CatalogError
    from llmops.components.capacity.throughput import DEFAULT_MAX_NUM_SEQS

    gpu = model_gpu(model, pools)
    if gpu is not None:
        try:
            perf = replica_perf(
                model.source, gpu, model.tensor_parallel_size, max_model_len=model.max_model_len
            )
        except CatalogError:
            perf = None
        if perf is not None:
            capacity = replica_capacity(
                perf, TokenMix(*TOKEN_MIX), Slo(), max_num_seqs=model.max_num_seqs or DEFAULT_MAX_NUM_SEQS
            )
            return capacity.batch
    return model.max_num_seqs


def pool_gpus_per_node(pool: PoolConfig) -> int | None:
    """GPUs on the pool's smallest machine type, or None when the catalog lacks one."""
    from llmops.components.capacity.catalog import CatalogError, load_catalog

    catalog = load_catalog()
    counts = []
    for instance_type in pool.instance_types:
        try:
            counts.append(catalog.instance_gpu(pool.cloud.value, instance_type)[1])
        except CatalogError:
            return None
    return min(counts) if counts else None


@dataclass(frozen=True)
class PoolRoom:
    pool: str
    nodes: int
    replicas_per_node: int


def replica_room(model: ModelConfig, pools: Mapping[str, PoolConfig]) -> list[PoolRoom] | None:
    """Replicas of the model each of its pools can hold at its max size; None when a pool's GPU
    count is unknown. A replica needs all its GPUs on one node."""
    rooms = []
    for pool in model_pools(model, pools):
        gpus = pool_gpus_per_node(pool)
        if gpus is None:
            return None
        rooms.append(PoolRoom(pool.name, pool.max, gpus // model.gpus))
    return rooms


def autoscaling_spec(
    model: ModelConfig,
    pools: Mapping[str, PoolConfig],
    observability: ObservabilityConfig,
    prometheus_url: str,
) -> AutoscalingSpec | None:
    """The model's spec, or None without `autoscaling:`. The config checks have run: the working
    batch is known and the windows are valid."""
    config = model.autoscaling
    if config is None:
        return None
    batch = working_batch(model, pools)
    assert batch is not None, "checked by infra.autoscaling_checks"
    return AutoscalingSpec(
        min_replicas=config.min_replicas,
        max_replicas=config.max_replicas,
        target=config.target,
        working_batch=batch,
        predictive=config.predictive,
        windows=tuple(
            CronWindow(
                name=w.name, start=w.start, end=w.end, replicas=w.replicas, timezone=w.timezone, days=w.days
            )
            for w in config.windows
        ),
        scale_down_window_s=config.scale_down_window_s,
        scrape_interval_s=_seconds(observability.vllm_scrape_interval),
        prometheus_url=prometheus_url,
        served_model_name=model.served_model_name or model.source,
    )


def _seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for suffix in ("ms", "s", "m", "h"):
        if duration.endswith(suffix) and duration[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(duration[: -len(suffix)]) * units[suffix]
    return 2.0


def _node_hour_usd(pool: PoolConfig, region: str | None, spot: Mapping[str, float]) -> float | None:
    from llmops.components.capacity.catalog import CatalogError, load_catalog

    try:
        row = load_catalog().price(pool.cloud.value, pool.instance_types[0], region)
    except CatalogError:
        return None
    if pool.capacity.value == "spot":
        current = spot.get(pool.instance_types[0]) or row.spot_usd_per_h
        return current if current is not None else row.on_demand_usd_per_h
    return row.on_demand_usd_per_h


def model_ceilings(
    config: StackConfig, region: str | None, spot_prices: Mapping[str, float] | None = None
) -> dict[str, dict[str, Any]]:
    """Per autoscaled model: min, max, triggers, and the monthly cost of max replicas all month on
    the pools it may use, dearest first (spot gone, the fallback full)."""
    pools = {p.name: p for p in config.pools}
    out: dict[str, dict[str, Any]] = {}
    for model in config.models:
        scaling = model.autoscaling
        if scaling is None:
            continue
        triggers = [
            "reactive",
            *(["predictive"] if scaling.predictive else []),
            *(f"window-{w.name}" for w in scaling.windows),
        ]
        entry: dict[str, Any] = {
            "min_replicas": scaling.min_replicas,
            "max_replicas": scaling.max_replicas,
            "target": scaling.target,
            "working_batch": working_batch(model, pools),
            "triggers": triggers,
            "ceiling_monthly_usd": None,
        }
        # The worst month the pools allow: replicas fill the dearest pool first (spot gone,
        # everything on the on-demand fallback), then the next, up to maxReplicas.
        priced = []
        for pool in model_pools(model, pools):
            price = _node_hour_usd(pool, region, spot_prices or {})
            gpus = pool_gpus_per_node(pool)
            if price is None or not gpus or gpus < model.gpus:
                continue
            priced.append((price, pool, gpus // model.gpus))
        if priced:
            left, usd, used = scaling.max_replicas, 0.0, []
            for price, pool, per_node in sorted(priced, key=lambda item: -item[0]):
                if left <= 0:
                    break
                nodes = min(pool.max, math.ceil(left / per_node))
                if nodes <= 0:
                    continue
                usd += nodes * price * HOURS_PER_MONTH
                left -= nodes * per_node
                used.append(f"{pool.name} x{nodes}")
            entry["ceiling_monthly_usd"] = round(usd, 2)
            entry["ceiling_pool"] = ", ".join(used)
        out[model.name] = entry
    return out


def autoscaled_ceiling(
    config: StackConfig, cost: Mapping[str, Any], ceilings: Mapping[str, Mapping[str, Any]]
) -> float | None:
    """What the stack can cost with every autoscaled model at its max: their ceilings plus the
    planned cost of the pools no autoscaled model uses; never below the planned estimate. None
    when no model autoscales."""
    if not ceilings:
        return None
    scaled_pools = set()
    pools = {p.name: p for p in config.pools}
    for model in config.models:
        if model.name in ceilings:
            scaled_pools |= {p.name for p in model_pools(model, pools)}
    per_pool: Mapping[str, Any] = cost.get("per_pool", {})
    others = sum(line["monthly_usd"] for name, line in per_pool.items() if name not in scaled_pools)
    models = sum(entry.get("ceiling_monthly_usd") or 0.0 for entry in ceilings.values())
    return round(max(float(cost.get("monthly_usd", 0.0)), models + others), 2)
