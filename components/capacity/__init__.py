"""Capacity and cost model: GPU catalog, memory fit, throughput, replicas, monthly cost, trace replay.

Pure Python (no Pulumi imports) so the plan, the policies and the CLI can use it offline. The
entry points the plan needs are `stack_cost` (pools -> CostReport) and `model_fit`
(model, GPU, count -> FitVerdict).
"""

from llmops.components.capacity.autoscalers import HpaParams, KedaWaitingParams, KpaParams
from llmops.components.capacity.catalog import Catalog, CatalogError, GpuSpec, InstancePrice, load_catalog
from llmops.components.capacity.cost import (
    CostInputError,
    CostReport,
    PoolCost,
    PoolCostLine,
    ScheduleWindow,
    stack_cost,
)
from llmops.components.capacity.models import FitVerdict, ModelSpec, get_model, model_catalog, model_fit
from llmops.components.capacity.promql import PredictiveRule, forecast, rule_group
from llmops.components.capacity.replay import POLICIES, ReplayResult, ReplaySettings, replay
from llmops.components.capacity.scaling import AutoscalingSpec, CronWindow, DemandRule, HpaLoop
from llmops.components.capacity.throughput import (
    ReplicaCapacity,
    Slo,
    TokenMix,
    replica_capacity,
    replica_perf,
    replicas_for_rate,
)
from llmops.components.capacity.traces import Trace, TraceFormatError, read_trace

__all__ = [
    "POLICIES",
    "AutoscalingSpec",
    "Catalog",
    "CatalogError",
    "CostInputError",
    "CostReport",
    "CronWindow",
    "DemandRule",
    "FitVerdict",
    "GpuSpec",
    "HpaLoop",
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
