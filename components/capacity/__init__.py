"""Capacity and cost model: GPU catalog, memory fit, throughput, replicas, monthly cost, trace replay.

Pure Python (no Pulumi imports) so the plan, the policies and the CLI can use it offline. The
entry points the plan needs are `stack_cost` (pools -> CostReport) and `model_fit`
(model, GPU, count -> FitVerdict).
"""

from components.capacity.autoscalers import HpaParams, KedaWaitingParams, KpaParams
from components.capacity.catalog import Catalog, CatalogError, GpuSpec, InstancePrice, load_catalog
from components.capacity.cost import (
    CostInputError,
    CostReport,
    PoolCost,
    PoolCostLine,
    ScheduleWindow,
    stack_cost,
)
from components.capacity.models import FitVerdict, ModelSpec, get_model, model_catalog, model_fit
from components.capacity.promql import PredictiveRule, forecast, rule_group
from components.capacity.replay import POLICIES, ReplayResult, ReplaySettings, replay
from components.capacity.throughput import (
    ReplicaCapacity,
    Slo,
    TokenMix,
    replica_capacity,
    replica_perf,
    replicas_for_rate,
)
from components.capacity.traces import Trace, TraceFormatError, read_trace

__all__ = [
    "POLICIES",
    "Catalog",
    "CatalogError",
    "CostInputError",
    "CostReport",
    "FitVerdict",
    "GpuSpec",
    "HpaParams",
    "InstancePrice",
    "KedaWaitingParams",
    "KpaParams",
    "ModelSpec",
    "PoolCost",
    "PoolCostLine",
    "PredictiveRule",
    "ReplayResult",
    "ReplaySettings",
    "ReplicaCapacity",
    "ScheduleWindow",
    "Slo",
    "TokenMix",
    "Trace",
    "TraceFormatError",
    "forecast",
    "get_model",
    "load_catalog",
    "model_catalog",
    "model_fit",
    "read_trace",
    "replay",
    "replica_capacity",
    "replica_perf",
    "replicas_for_rate",
    "rule_group",
    "stack_cost",
]
