"""Can every model be scheduled? Checked from the stack config alone, before any resource exists.

A model whose pods can never be placed stays Pending after `pulumi up` with nothing in the
plan to say why. This module answers, per model, on which of the pools it may run (its
`pool`, then its chain of `fallbackPool`s) one node could hold one replica:

- the replica's GPUs (tensorParallelSize x pipelineParallelSize) fit on one machine of the
  pool (GPU count per instance type from the capacity catalog);
- the pool's GPU is the one the model was sized for (`gpuType`, else its own pool's GPU);
- the node's labels satisfy the model's `nodeSelector`, and the model tolerates the node's taints.

And for every pool with a `fallbackPool`: both carry the same GPU, so a model sized for one
still fits on the other. Pure Python (no Pulumi).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from llmops.components.k3s.render import GPU_TAINT, NodeTaint, pool_labels
from llmops.components.pools import GpuNodePoolArgs
from llmops.infra.config import ModelConfig, PoolConfig, Problem, StackConfig

# What the serving component tolerates (components/serving/vllm_model.py: the GPU taint, any value).
MODEL_TOLERATIONS: tuple[tuple[str, str], ...] = ((GPU_TAINT.key, GPU_TAINT.effect),)

# Taints of every pool the stack creates: the pool args' default (the stack config sets none).
POOL_TAINTS: tuple[NodeTaint, ...] = next(
    tuple(f.default)
    for f in dataclasses.fields(GpuNodePoolArgs)
    if f.name == "taints" and isinstance(f.default, tuple)
)


@dataclass(frozen=True)
class PoolFacts:
    """What a node of a pool offers a pod."""

    name: str
    gpu_type: str
    gpus_per_node: dict[str, int]
    """Instance type -> GPUs it carries, for the types the catalog knows."""
    labels: dict[str, str]
    taints: tuple[NodeTaint, ...]

    @property
    def largest(self) -> tuple[str, int] | None:
        if not self.gpus_per_node:
            return None
        return max(self.gpus_per_node.items(), key=lambda item: item[1])


def pool_facts(pool: PoolConfig, gpus_per_node: Mapping[str, int]) -> PoolFacts:
    labels = {
        **pool.labels,
        **pool_labels(pool=pool.name, cloud=pool.cloud.value, capacity=pool.capacity.value, gpu=True),
    }
    return PoolFacts(pool.name, pool.gpu_type, dict(gpus_per_node), labels, POOL_TAINTS)


def catalog_gpu_counts(pool: PoolConfig) -> dict[str, int]:
    """GPUs per machine of each of the pool's instance types that the capacity catalog lists."""
    from llmops.components.capacity import CatalogError, load_catalog

    catalog = load_catalog()
    counts: dict[str, int] = {}
    for instance_type in pool.instance_types:
        try:
            _, count = catalog.instance_gpu(pool.cloud.value, instance_type)
        except CatalogError:
            continue  # an unknown type is reported by the pool's own checks
        counts[instance_type] = count
    return counts


def what_it_lacks(model: ModelConfig, sized_for: str, pool: PoolFacts) -> list[str]:
    """Why one replica of `model` cannot run on a node of `pool`; empty when it can."""
    lacks = []
    if pool.gpu_type != sized_for:
        lacks.append(f"carries {pool.gpu_type} GPUs, the model is sized for {sized_for}")
    largest = pool.largest
    if largest is not None and largest[1] < model.gpus:
        lacks.append(
            f"its largest machine ({largest[0]}) has {largest[1]} GPU{'s' if largest[1] != 1 else ''}, "
            f"one replica needs {model.gpus} (tensorParallelSize {model.tensor_parallel_size} x "
            f"pipelineParallelSize {model.pipeline_parallel_size})"
        )
    missing = {k: v for k, v in model.node_selector.items() if pool.labels.get(k) != v}
    if missing:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(missing.items()))
        lacks.append(f"its nodes lack the nodeSelector label(s) {shown}")
    untolerated = [
        t.render()
        for t in pool.taints
        if t.effect in ("NoSchedule", "NoExecute") and (t.key, t.effect) not in MODEL_TOLERATIONS
    ]
    if untolerated:
        lacks.append(f"its taint(s) {', '.join(untolerated)} are not tolerated by the model")
    return lacks


def pools_considered(model: ModelConfig, pools: Mapping[str, PoolConfig]) -> list[PoolConfig]:
    """The model's pool and its chain of fallbacks, as the serving component's affinity lists them."""
    from llmops.infra.autoscaling import model_pools

    return model_pools(model, pools)


def _fix(
    model: ModelConfig, sized_for: str, facts: Sequence[PoolFacts], gpu_counts: Mapping[str, int]
) -> str:
    if any(f.largest is not None and f.largest[1] < model.gpus for f in facts):
        bigger = sorted(t for t, n in gpu_counts.items() if n >= model.gpus)
        hint = f" (the catalog's {sized_for} machines with enough: {', '.join(bigger[:3])})" if bigger else ""
        return (
            f"add a machine type with at least {model.gpus} {sized_for} GPUs to the pool{hint}, "
            "or lower tensorParallelSize/pipelineParallelSize"
        )
    return "pin the model to a pool that offers what it lacks, or change the pool"


def _catalog_types_for(cloud: str, gpu: str) -> dict[str, int]:
    from llmops.components.capacity import load_catalog

    catalog = load_catalog()
    out = {}
    for instance_type in catalog.instance_types(cloud):
        name, count = catalog.instance_gpu(cloud, instance_type)
        if name == gpu:
            out[instance_type] = count
    return out


def placement_problems(
    config: StackConfig, gpu_counts: Mapping[str, Mapping[str, int]] | None = None
) -> list[Problem]:
    """Every model that no pool it may run on can hold, and every fallback of another GPU type.

    `gpu_counts` (pool name -> instance type -> GPUs) replaces the catalog look-up in tests.
    """
    pools = {p.name: p for p in config.pools}
    problems: list[Problem] = []
    for i, pool in enumerate(config.pools):
        fallback = pools.get(pool.fallback_pool) if pool.fallback_pool else None
        if fallback is not None and fallback.name != pool.name and fallback.gpu_type != pool.gpu_type:
            problems.append(
                Problem(
                    f"pools[{i}].fallbackPool",
                    pool.fallback_pool,
                    f"carries {fallback.gpu_type} GPUs, this pool {pool.gpu_type}; models sized for one "
                    "would run on the other",
                    f"fall back to a pool of {pool.gpu_type} machines",
                )
            )

    counts = gpu_counts if gpu_counts is not None else {p.name: catalog_gpu_counts(p) for p in config.pools}
    for i, model in enumerate(config.models):
        considered = pools_considered(model, pools)
        if not considered or (model.gpu_type is not None and model.gpu_type != considered[0].gpu_type):
            continue  # no pool to check, or the gpuType clash the config checks already report
        sized_for = model.gpu_type or considered[0].gpu_type
        facts = [pool_facts(p, counts.get(p.name, {})) for p in considered]
        verdicts = [(f, what_it_lacks(model, sized_for, f)) for f in facts]
        if any(not lacks for _, lacks in verdicts):
            continue
        listing = "; ".join(f"pool {f.name!r}: {' and '.join(lacks)}" for f, lacks in verdicts)
        names = ", ".join(repr(f.name) for f in facts)
        catalog_counts = (
            _catalog_types_for(considered[0].cloud.value, sized_for) if gpu_counts is None else {}
        )
        problems.append(
            Problem(
                f"models[{i}]",
                model.name,
                f"cannot be placed on any pool it may run on ({names}): {listing}",
                _fix(model, sized_for, facts, catalog_counts),
            )
        )
    return problems
