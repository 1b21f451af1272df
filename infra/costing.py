"""A stack's monthly cost, model fit and budget verdict, from its config and the capacity model.

Pure Python (no Pulumi). The plan prints these and writes them to plan.json; the program
uses `gpu_prices()` for the cost dashboard.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from llmops.components.capacity import PoolCost, ScheduleWindow, model_fit, stack_cost
from llmops.components.capacity.catalog import CatalogError, load_catalog
from llmops.components.cron import DAY_NUMBERS, expand
from llmops.infra.config import BudgetConfig, K3sClusterConfig, PoolConfig, ScheduleConfig, StackConfig


def _fire_times(schedule: ScheduleConfig) -> list[int]:
    """Hours of the week (Monday 00:00 = 0) at which the schedule's cron fires.

    Hour granularity is enough for a monthly cost: a window starting at 08:30 is priced
    from 08:00. Day-of-month and month fields are treated as every day, every month.
    """
    minute, hour, _, _, weekday = schedule.cron.split()
    hours = expand(hour, 0, 23)
    cron_days = expand(weekday, 0, 7, DAY_NUMBERS)
    days = {(d + 6) % 7 for d in cron_days}  # cron: 0 and 7 are Sunday; ours: Monday = 0
    del minute
    return sorted(day * 24 + h for day in days for h in hours)


def pool_windows(pool: PoolConfig) -> tuple[int, tuple[ScheduleWindow, ...]]:
    """The pool's node count outside schedules, and one window per run of hours a schedule holds.

    Each scheduled action sets the size until the next one fires (as ASG scheduled actions
    do), so the week is a cycle of sizes.
    """
    base = pool.desired if pool.desired is not None else pool.min
    fired: dict[int, int] = {}
    for schedule in pool.schedules:
        size = schedule.sizes(pool).desired
        for hour in _fire_times(schedule):
            fired[hour] = size
    if not fired:
        return base, ()
    week = [0] * (7 * 24)
    last = fired[max(fired)]  # what holds at Monday 00:00: the week's last action, wrapped around
    for hour in range(7 * 24):
        last = fired.get(hour, last)
        week[hour] = last
    windows = []
    for day in range(7):
        hours = week[day * 24 : (day + 1) * 24]
        start = 0
        for h in range(1, 25):
            if h == 24 or hours[h] != hours[start]:
                windows.append(ScheduleWindow(start, h, hours[start], (day,)))
                start = h
    return base, tuple(windows)


def pool_costs(
    config: StackConfig,
    region: str | None,
    spot_prices: Mapping[str, float] | None = None,
    regions: Mapping[str, str] | None = None,
) -> list[PoolCost]:
    """`regions`: cloud -> region, for pools of a stack spanning clouds (where `region` is None)."""
    models_on = {p.name: tuple(m.name for m in config.models if m.pool == p.name) for p in config.pools}
    # One region names one cloud's: across clouds it prices the servers' cloud's pools only.
    home = config.cluster.cloud if isinstance(config.cluster, K3sClusterConfig) else None
    spanning = len({p.cloud for p in config.pools} | ({home} if home else set())) > 1
    costs = []
    for pool in config.pools:
        own = region if not spanning or pool.cloud is home else None
        nodes, windows = pool_windows(pool)
        costs.append(
            PoolCost(
                name=pool.name,
                cloud=pool.cloud.value,
                # The first (preferred) type prices the pool; the others are spot alternatives.
                instance_type=pool.instance_types[0],
                nodes=nodes,
                region=own if own is not None else (regions or {}).get(pool.cloud.value),
                capacity=pool.capacity.value,
                on_demand_base=pool.on_demand_base,
                schedules=windows,
                models=models_on[pool.name],
                # Current spot prices from the account (plan preflight) beat the catalog's snapshot.
                spot_usd_per_h=(spot_prices or {}).get(pool.instance_types[0]),
            )
        )
    return costs


def ceiling_costs(
    config: StackConfig,
    region: str | None,
    spot_prices: Mapping[str, float] | None = None,
    regions: Mapping[str, str] | None = None,
) -> list[PoolCost]:
    """Every pool at its max, all month: what the stack costs if every autoscaler maxes out."""
    return [
        replace(cost, nodes=pool.max, schedules=())
        for cost, pool in zip(pool_costs(config, region, spot_prices, regions), config.pools, strict=True)
    ]


@dataclass(frozen=True)
class StackEstimate:
    cost: dict[str, Any]
    fit: dict[str, dict[str, Any]]
    budget: dict[str, Any]

    @property
    def over_mandatory_budget(self) -> bool:
        return self.budget.get("verdict") == "over" and self.budget.get("enforcement") == "mandatory"


def estimate(
    config: StackConfig,
    region: str | None,
    spot_prices: Mapping[str, float] | None = None,
    regions: Mapping[str, str] | None = None,
) -> StackEstimate:
    """Cost (expected and ceiling), fit per model, and the budget verdict. `regions` (cloud ->
    region, from `cloud_regions`) prices the pools of a stack spanning clouds."""
    warnings: list[str] = []
    if config.pools:
        report = stack_cost(pool_costs(config, region, spot_prices, regions))
        ceiling = stack_cost(ceiling_costs(config, region, spot_prices, regions))
        cost = report.to_json() | {"ceiling_monthly_usd": round(ceiling.monthly_usd, 2)}
        warnings.extend(report.warnings)
    else:
        cost = {
            "monthly_usd": 0.0,
            "ceiling_monthly_usd": 0.0,
            "per_pool": {},
            "per_model": {},
            "on_demand_usd": 0.0,
            "spot_usd": 0.0,
            "note": "the cluster is not created by this stack; its machines are not priced here",
        }
    if isinstance(config.cluster, K3sClusterConfig):
        from llmops.components.cloud import kit

        server_type = (
            config.cluster.server_instance_type or kit(config.cluster.cloud).default_server_instance_type
        )
        warnings.append(
            f"the {config.cluster.servers} K3s server(s) ({server_type}, "
            "on-demand) and network items are not priced: the catalog covers GPU machines"
        )
    cost["warnings"] = warnings
    from llmops.infra.autoscaling import autoscaled_ceiling, model_ceilings

    ceilings = model_ceilings(config, region, spot_prices)
    if ceilings:
        cost["autoscaling"] = ceilings
        cost["autoscaled_ceiling_monthly_usd"] = autoscaled_ceiling(config, cost, ceilings)
    _add_model_store(config, cost)
    _add_node_addresses(config, cost)
    return StackEstimate(cost=cost, fit=fit_verdicts(config), budget=budget_verdict(config.budget, cost))


def _add_model_store(config: StackConfig, cost: dict[str, Any]) -> None:
    """The model store's monthly cost (the cloud's shared file system) joins every total the budget
    reads: the expected month, the ceiling and the autoscaled ceiling."""
    from llmops.infra.model_store import store_summary

    summary = store_summary(config, {p.name: p for p in config.pools})
    store = summary.get("monthlyCost")
    usd = float(store.get("monthly_usd", 0.0)) if store else 0.0
    if not usd:
        return
    cost["model_store_usd"] = round(usd, 2)
    cost["model_store"] = {"kind": summary["kind"], **(store or {})}
    for key in ("monthly_usd", "ceiling_monthly_usd", "autoscaled_ceiling_monthly_usd"):
        if key in cost:
            cost[key] = round(cost[key] + usd, 2)


def _add_node_addresses(config: StackConfig, cost: dict[str, Any]) -> None:
    """A cluster spanning clouds pays a static public IPv4 per server and per pool node at `max`,
    around the clock; it joins every total the budget reads (docs/decisions/130-static-node-addresses.md)."""
    from llmops.infra.multicloud import address_summary, spans_clouds

    if not spans_clouds(config):
        return
    summary = address_summary(config)
    cost["node_addresses"] = summary
    usd = float(summary["usdPerMonth"])
    for key in ("monthly_usd", "ceiling_monthly_usd", "autoscaled_ceiling_monthly_usd"):
        if key in cost:
            cost[key] = round(cost[key] + usd, 2)


def fit_verdicts(config: StackConfig) -> dict[str, dict[str, Any]]:
    pools = {p.name: p for p in config.pools}
    verdicts: dict[str, dict[str, Any]] = {}
    for model in config.models:
        gpu = model.gpu_type or (pools[model.pool].gpu_type if model.pool in pools else None)
        if gpu is None:
            verdicts[model.name] = {
                "checked": False,
                "message": "no GPU type known; set gpuType to check the fit",
            }
            continue
        try:
            verdict = model_fit(
                model.source,
                gpu,
                model.tensor_parallel_size,
                max_model_len=model.max_model_len,
                dtype=None if model.dtype.value == "auto" else model.dtype.value,
                quantization=model.quantization.value if model.quantization else None,
                kv_cache_dtype=model.kv_cache_dtype,
                gpu_memory_utilization=model.gpu_memory_utilization,
            )
        except CatalogError as exc:  # the model or the GPU is not in the catalog
            verdicts[model.name] = {"checked": False, "message": f"not in the capacity catalog: {exc}"}
            continue
        verdicts[model.name] = {"checked": True, **verdict.to_json()}
    return verdicts


def budget_verdict(budget: BudgetConfig, cost: dict[str, Any]) -> dict[str, Any]:
    if budget.monthly_usd is None:
        return {"monthly_usd": None, "verdict": "none", "enforcement": budget.enforcement}
    # A mandatory budget must hold when the autoscalers max out, not only at the planned sizes.
    autoscaled = cost.get("autoscaled_ceiling_monthly_usd")
    checked = autoscaled if budget.enforcement == "mandatory" and autoscaled is not None else None
    compared = cost["monthly_usd"] if checked is None else checked
    over = compared > budget.monthly_usd
    return {
        "monthly_usd": budget.monthly_usd,
        "estimate_usd": cost["monthly_usd"],
        "ceiling_usd": cost["ceiling_monthly_usd"],
        "autoscaled_ceiling_usd": autoscaled,
        "checked": "autoscaled ceiling" if checked is not None else "estimate",
        "checked_usd": compared,
        "verdict": "over" if over else "within",
        "enforcement": budget.enforcement,
    }


def preflight_wanted(config: StackConfig, environ: Mapping[str, str]) -> bool:
    """Run the preflight when the stack has pools on a cloud whose credentials the shell names."""
    from llmops.components.cloud import kit

    return any(kit(cloud).preflight_wanted(environ) for cloud in {pool.cloud for pool in config.pools})


def preflight(config: StackConfig, raw_other: Mapping[str, Any]) -> dict[str, Any] | None:
    """Offerings per zone, current spot prices and the GPU image in the account of the pools' cloud."""
    from llmops.components.cloud import kit

    clouds = sorted({pool.cloud for pool in config.pools})
    if len(clouds) != 1:
        return None
    cloud = kit(clouds[0])
    instance_types = sorted({t for pool in config.pools for t in pool.instance_types})
    checks = cloud.preflight(stack_region(config, raw_other) or cloud.default_region, instance_types)
    return {"cloud": cloud.display_name, **checks}


def stack_region(config: StackConfig, raw_other: Mapping[str, Any]) -> str | None:
    """The region the stack file sets for its pools' cloud (`<provider>:region`), if it sets one."""
    from llmops.components.cloud import kit

    clouds = {pool.cloud for pool in config.pools}
    if isinstance(config.cluster, K3sClusterConfig):
        clouds.add(config.cluster.cloud)
    if len(clouds) != 1:
        return None
    value = raw_other.get(kit(next(iter(clouds))).region_key)
    return value if isinstance(value, str) else None


def cloud_regions(config: StackConfig, raw_other: Mapping[str, Any]) -> dict[str, str]:
    """Cloud -> the region the stack file sets for it (`<provider>:region`), for each used cloud."""
    from llmops.components.cloud import kit

    clouds = {pool.cloud for pool in config.pools}
    found = {cloud.value: raw_other.get(kit(cloud).region_key) for cloud in clouds}
    return {cloud: value for cloud, value in found.items() if isinstance(value, str)}


def gpu_prices(pools: Iterable[PoolConfig], region: str | None) -> dict[str, float]:
    """USD per GPU-hour per pool (spot price for spot pools), for the cost dashboard."""
    catalog = load_catalog()
    prices: dict[str, float] = {}
    for pool in pools:
        try:
            row = catalog.price(pool.cloud.value, pool.instance_types[0], region)
        except CatalogError:
            continue  # the dashboard then shows GPU-hours without dollars for this pool
        per_node = row.on_demand_usd_per_h
        if pool.capacity.value == "spot" and row.spot_usd_per_h is not None:
            per_node = row.spot_usd_per_h
        if per_node is not None and row.gpu_count:
            prices[pool.name] = round(per_node / row.gpu_count, 4)
    return prices
