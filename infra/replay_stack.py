"""`llmops replay --stack S --model NAME`: the replay settings of one autoscaled model of a stack.

The `deployed` policy gets the very objects the program renders: the `AutoscalingSpec` the
ScaledObject is built from (infra.program.autoscaling_spec) and the per-token costs and start-up
time of the model's forecast rule (infra.program.demand_forecast). The model, GPU, parallelism,
context length and start-up time come from the same model config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmops.components.capacity.failover import PoolRoom
from llmops.components.capacity.replay import DEFAULT_MAX_MODEL_LEN, ReplaySettings
from llmops.components.capacity.scaling import AutoscalingSpec, DemandRule
from llmops.components.errors import MISSING, Problem
from llmops.infra.config import ModelConfig, StackConfig


@dataclass(frozen=True)
class StackModel:
    """What a replay of one stack model needs."""

    model: ModelConfig
    gpu: str
    spec: AutoscalingSpec
    rule: DemandRule
    startup_s: int
    """Seconds a new replica takes, as the stack deploys it: `startupS`, else the start-up estimate."""
    pools: tuple[PoolRoom, ...] | None = None
    """The model's pools in preference order with the replicas each holds at its max size (for
    `--lose-pool`); None where a pool's GPUs per machine are unknown."""


class StackModelError(ValueError):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def stack_model(config: StackConfig, name: str) -> StackModel:
    """The model called `name` in the stack, with its deployed ScaledObject and forecast rule."""
    from llmops.components.capacity.catalog import CatalogError
    from llmops.components.capacity.scaling import PLANNING_MIX
    from llmops.components.capacity.throughput import Slo, TokenMix, replica_capacity, replica_perf
    from llmops.infra import program
    from llmops.infra.autoscaling import model_gpu

    names = [m.name for m in config.models]
    if name not in names:
        raise StackModelError(
            Problem(
                "--model",
                name,
                f"is not a model of this stack (models: {', '.join(names) or 'none'})",
                "pass one of the names under llmops:models",
            )
        )
    index = names.index(name)
    model = config.models[index]
    pools = {p.name: p for p in config.pools}
    if model.autoscaling is None:
        raise StackModelError(
            Problem(
                f"models[{index}].autoscaling",
                MISSING,
                "is not set, so the stack deploys no ScaledObject to replay",
                "add an autoscaling: block to the model, or replay without --stack",
            )
        )
    gpu = model_gpu(model, pools)
    spec = program.autoscaling_spec(model, pools, config.observability)
    assert gpu is not None and spec is not None, "checked by infra.autoscaling_checks"
    from llmops.infra.model_store import startup_estimate_s

    # What the deployed forecast looks ahead by (infra.model_store.with_estimated_startup).
    startup_s = int(
        model.startup_s
        if model.startup_s is not None
        else (startup_estimate_s(config, model) or program.DEFAULT_STARTUP_S)
    )
    forecast = program.demand_forecast(model, pools)
    if forecast is not None:
        rule = DemandRule(forecast.prefill_s_per_token, forecast.decode_s_per_token, startup_s)
    else:
        # No forecast rule (the model is outside the capacity catalog, so predictive is off):
        # the costs only feed a trigger the object does not have.
        try:
            perf = replica_perf(
                model.source, gpu, model.tensor_parallel_size, max_model_len=model.max_model_len
            )
        except CatalogError:
            raise StackModelError(
                Problem(
                    f"models[{index}].source",
                    model.source,
                    f"has no figures in the capacity catalog on {gpu}, "
                    "so the replay cannot size its replicas",
                    "replay a catalog model of the same size with --model and --gpu (see llmops capacity)",
                )
            ) from None
        planning = replica_capacity(perf, TokenMix(*PLANNING_MIX), Slo())
        rule = DemandRule(planning.prefill_s_per_token, planning.decode_s_per_token, startup_s)
    from llmops.infra.autoscaling import even_pools, replica_room

    rooms = replica_room(model, pools)
    lead = max(1, len(even_pools(model, pools))) - 1  # equally preferred pools share rank 0
    sizes = (
        None
        if rooms is None
        else tuple(
            PoolRoom(r.pool, r.nodes * r.replicas_per_node, max(0, i - lead)) for i, r in enumerate(rooms)
        )
    )
    return StackModel(model, gpu, spec, rule, startup_s, sizes)


def replay_settings(found: StackModel, **overrides: Any) -> ReplaySettings:
    """Replay settings of a stack model: its GPU, parallelism, context length and start-up time,
    the deployed ScaledObject and forecast rule, and the ScaledObject's bounds for every dynamic
    policy (so all are compared at the same ceiling). `overrides`: SLO, price, trace start, or a
    different simulated start-up (the forecast still looks ahead by the stack's)."""
    model = found.model
    values: dict[str, Any] = {
        "model_id": model.source,
        "gpu": found.gpu,
        "tensor_parallel": model.tensor_parallel_size,
        "max_model_len": model.max_model_len or DEFAULT_MAX_MODEL_LEN,
        "startup_s": float(found.startup_s),
        "deployed": found.spec,
        "demand_rule": found.rule,
        "min_replicas": found.spec.min_replicas,
        "max_replicas": found.spec.max_replicas,
    }
    return ReplaySettings(**(values | overrides))
