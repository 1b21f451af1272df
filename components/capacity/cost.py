"""Monthly cost of a set of GPU node pools with schedules and a spot/on-demand mix.

Convention: a month is 30 days (720 hours). A pool runs `nodes` nodes except inside its schedule
windows, where it runs the window's count (the largest where windows overlap). Weekday windows
are averaged over the week, so a Monday-Friday window counts 30 x 5/7 days a month.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from llmops.components.capacity.catalog import Catalog, CatalogError, load_catalog

HOURS_PER_MONTH = 720.0
CAPACITY_TYPES = ("on-demand", "spot", "mixed")
_MINUTES_PER_WEEK = 7 * 24 * 60
ALL_DAYS = (0, 1, 2, 3, 4, 5, 6)


class CostInputError(ValueError):
    """Every problem with the pools given, reported together."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class ScheduleWindow:
    """`nodes` nodes from `start_hour` to `end_hour` (end < start wraps past midnight) on `weekdays`."""

    start_hour: float
    end_hour: float
    nodes: int
    weekdays: tuple[int, ...] = ALL_DAYS
    """Days the window starts on, Monday = 0; default: every day."""


@dataclass(frozen=True)
class PoolCost:
    """One node pool as the cost model sees it (the stack config maps onto this)."""

    name: str
    cloud: str
    instance_type: str
    nodes: int
    """Nodes outside any schedule window (the pool's desired size)."""
    region: str | None = None
    """Default: the cheapest priced region for the instance type."""
    capacity: str = "on-demand"
    """on-demand, spot, or mixed (the first `on_demand_base` nodes on-demand, the rest spot)."""
    on_demand_base: int = 0
    schedules: tuple[ScheduleWindow, ...] = ()
    models: tuple[str, ...] = ()
    """Models served from the pool; its cost is split evenly across them."""
    on_demand_usd_per_h: float | None = None
    """Per node-hour; default: the catalog's price."""
    spot_usd_per_h: float | None = None
    """Per node-hour; default: the catalog's spot price, else the on-demand price (with a warning)."""
    gpus_per_node: int | None = None
    """Default: the catalog's GPU count for the instance type."""


@dataclass(frozen=True)
class PoolCostLine:
    name: str
    cloud: str
    instance_type: str
    region: str
    capacity: str
    gpus_per_node: int
    node_hours: float
    gpu_hours: float
    on_demand_usd_per_h: float
    spot_usd_per_h: float
    on_demand_usd: float
    spot_usd: float
    monthly_usd: float
    price_source: str

    def to_json(self) -> dict[str, object]:
        return {
            "cloud": self.cloud,
            "instance_type": self.instance_type,
            "region": self.region,
            "capacity": self.capacity,
            "gpus_per_node": self.gpus_per_node,
            "node_hours": round(self.node_hours, 3),
            "gpu_hours": round(self.gpu_hours, 3),
            "on_demand_usd_per_h": self.on_demand_usd_per_h,
            "spot_usd_per_h": self.spot_usd_per_h,
            "on_demand_usd": round(self.on_demand_usd, 2),
            "spot_usd": round(self.spot_usd, 2),
            "monthly_usd": round(self.monthly_usd, 2),
            "price_source": self.price_source,
        }


@dataclass(frozen=True)
class CostReport:
    monthly_usd: float
    on_demand_usd: float
    spot_usd: float
    per_pool: dict[str, PoolCostLine]
    per_model: dict[str, float]
    hours_per_month: float = HOURS_PER_MONTH
    warnings: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, object]:
        return {
            "monthly_usd": round(self.monthly_usd, 2),
            "per_pool": {name: line.to_json() for name, line in self.per_pool.items()},
            "per_model": {name: round(value, 2) for name, value in self.per_model.items()},
            "on_demand_usd": round(self.on_demand_usd, 2),
            "spot_usd": round(self.spot_usd, 2),
            "hours_per_month": self.hours_per_month,
            "warnings": list(self.warnings),
        }


def weekly_node_profile(pool: PoolCost) -> np.ndarray:
    """Nodes running in each minute of a week (Monday 00:00 first)."""
    profile = np.full(_MINUTES_PER_WEEK, pool.nodes, dtype=np.int64)
    scheduled = np.zeros(_MINUTES_PER_WEEK, dtype=bool)
    window_nodes = np.zeros(_MINUTES_PER_WEEK, dtype=np.int64)
    for window in pool.schedules:
        start = round(window.start_hour * 60)
        end = round(window.end_hour * 60)
        # end <= start wraps past midnight; 0-24 is the whole day, not an empty window.
        length = end - start if end > start else (end - start) % (24 * 60) or 24 * 60
        for day in window.weekdays:
            begin = day * 24 * 60 + start
            minutes = np.arange(begin, begin + length) % _MINUTES_PER_WEEK
            window_nodes[minutes] = np.maximum(window_nodes[minutes], window.nodes)
            scheduled[minutes] = True
    profile[scheduled] = window_nodes[scheduled]
    return profile


def _validate(pools: Sequence[PoolCost]) -> list[str]:
    problems: list[str] = []
    names: set[str] = set()
    for index, pool in enumerate(pools):
        where = f"pools[{index}] ({pool.name})"
        if pool.name in names:
            problems.append(
                f"{where}.name: {pool.name!r} is used by an earlier pool; pool names must be unique"
            )
        names.add(pool.name)
        if pool.capacity not in CAPACITY_TYPES:
            problems.append(f"{where}.capacity: {pool.capacity!r} is not one of {', '.join(CAPACITY_TYPES)}")
        if pool.nodes < 0:
            problems.append(f"{where}.nodes: {pool.nodes} is negative; use 0 or more")
        if pool.on_demand_base < 0:
            problems.append(f"{where}.on_demand_base: {pool.on_demand_base} is negative; use 0 or more")
        for price_key in ("on_demand_usd_per_h", "spot_usd_per_h"):
            value = getattr(pool, price_key)
            if value is not None and value < 0:
                problems.append(f"{where}.{price_key}: {value} is negative; give a price >= 0")
        for w_index, window in enumerate(pool.schedules):
            wwhere = f"{where}.schedules[{w_index}]"
            for key in ("start_hour", "end_hour"):
                hour = getattr(window, key)
                if not 0 <= hour <= 24:
                    problems.append(f"{wwhere}.{key}: {hour} is outside 0-24")
            if window.nodes < 0:
                problems.append(f"{wwhere}.nodes: {window.nodes} is negative; use 0 or more")
            bad_days = [d for d in window.weekdays if d not in ALL_DAYS]
            if bad_days:
                problems.append(f"{wwhere}.weekdays: {bad_days} are not days 0 (Monday) to 6 (Sunday)")
    return problems


def stack_cost(
    pools: Sequence[PoolCost],
    *,
    catalog: Catalog | None = None,
    hours_per_month: float = HOURS_PER_MONTH,
) -> CostReport:
    """Monthly cost of `pools`; raises CostInputError listing every bad pool at once."""
    problems = _validate(pools)
    if problems:
        raise CostInputError(problems)
    catalog = catalog or load_catalog()
    warnings: list[str] = []
    lines: dict[str, PoolCostLine] = {}
    per_model: dict[str, float] = {}
    week_to_month = hours_per_month / (7 * 24)
    for index, pool in enumerate(pools):
        row = None
        need_catalog = (
            pool.on_demand_usd_per_h is None
            or pool.gpus_per_node is None
            or (pool.capacity != "on-demand" and pool.spot_usd_per_h is None)
        )
        if need_catalog:
            try:
                row = catalog.price(pool.cloud, pool.instance_type, pool.region)
            except CatalogError as exc:
                problems.append(f"pools[{index}] ({pool.name}).instance_type: {exc}")
                continue
        on_demand = pool.on_demand_usd_per_h
        if on_demand is None:
            on_demand = row.on_demand_usd_per_h if row else None
        if on_demand is None:
            problems.append(
                f"pools[{index}] ({pool.name}): the catalog has no on-demand price for {pool.instance_type} "
                f"in {row.region if row else pool.region}; give on_demand_usd_per_h"
            )
            continue
        spot = pool.spot_usd_per_h
        if spot is None and row is not None:
            spot = row.spot_usd_per_h
        if spot is None:
            if pool.capacity != "on-demand":
                warnings.append(
                    f"pool {pool.name}: no spot price for {pool.instance_type} in "
                    f"{row.region if row else pool.region}; spot hours priced at on-demand "
                    f"(run `llmops prices refresh --cloud {pool.cloud}` or give spot_usd_per_h)"
                )
            spot = on_demand
        gpus = pool.gpus_per_node if pool.gpus_per_node is not None else (row.gpu_count if row else 1)
        profile = weekly_node_profile(pool)
        if pool.capacity == "on-demand":
            on_demand_nodes, spot_nodes = profile, np.zeros_like(profile)
        elif pool.capacity == "spot":
            on_demand_nodes, spot_nodes = np.zeros_like(profile), profile
        else:
            on_demand_nodes = np.minimum(profile, pool.on_demand_base)
            spot_nodes = profile - on_demand_nodes
        on_demand_hours = float(on_demand_nodes.sum()) / 60 * week_to_month
        spot_hours = float(spot_nodes.sum()) / 60 * week_to_month
        on_demand_usd = on_demand_hours * on_demand
        spot_usd = spot_hours * spot
        line = PoolCostLine(
            name=pool.name,
            cloud=pool.cloud,
            instance_type=pool.instance_type,
            region=pool.region or (row.region if row else ""),
            capacity=pool.capacity,
            gpus_per_node=gpus,
            node_hours=on_demand_hours + spot_hours,
            gpu_hours=(on_demand_hours + spot_hours) * gpus,
            on_demand_usd_per_h=on_demand,
            spot_usd_per_h=spot,
            on_demand_usd=on_demand_usd,
            spot_usd=spot_usd,
            monthly_usd=on_demand_usd + spot_usd,
            price_source=row.source if row and pool.on_demand_usd_per_h is None else "given in the stack",
        )
        lines[pool.name] = line
        owners = pool.models or ("(no model)",)
        for model in owners:
            per_model[model] = per_model.get(model, 0.0) + line.monthly_usd / len(owners)
    if problems:
        raise CostInputError(problems)
    on_demand_total = sum(line.on_demand_usd for line in lines.values())
    spot_total = sum(line.spot_usd for line in lines.values())
    return CostReport(
        monthly_usd=on_demand_total + spot_total,
        on_demand_usd=on_demand_total,
        spot_usd=spot_total,
        per_pool=lines,
        per_model=per_model,
        hours_per_month=hours_per_month,
        warnings=tuple(warnings),
    )
