"""Checks over several keys of a stack: memory sizes, model fit on its GPU, engine support, region.

Plain functions over a `StackConfig` (and the provider keys beside it) returning `Problem`s with
key paths, so the config check, the plan and the policy pack call the same code.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from llmops.components.serving.engine_support import support_problems
from llmops.infra.value_checks import quantity_value

if TYPE_CHECKING:
    from llmops.infra.config import ModelConfig, Problem, StackConfig


def stack_problems(config: StackConfig, provider_keys: Mapping[str, Any]) -> list[Problem]:
    problems = region_problems(provider_keys)
    pools = {p.name: p for p in config.pools}
    for index, model in enumerate(config.models):
        at = f"models[{index}]"
        problems += memory_problems(at, model)
        gpu = model.gpu_type or (pools[model.pool].gpu_type if model.pool in pools else None)
        if gpu is not None:
            problems += engine_problems(at, model, gpu)
            problems += fit_problems(at, model, gpu)
    return problems


def memory_problems(at: str, model: ModelConfig) -> list[Problem]:
    """An in-memory /dev/shm counts against the container's memory limit."""
    from llmops.infra.config import Problem

    if quantity_value(model.shm_size) >= quantity_value(model.memory):
        return [
            Problem(
                f"{at}.shmSize",
                model.shm_size,
                f"is not below the memory limit ({model.memory}); /dev/shm is memory the pod uses, so the "
                "pod would be killed once it filled",
                f"set shmSize below {model.memory}, or raise memory",
            )
        ]
    return []


def engine_problems(at: str, model: ModelConfig, gpu: str) -> list[Problem]:
    from llmops.infra.config import Problem

    values = {
        "dtype": model.dtype.value,
        "quantization": model.quantization.value if model.quantization else None,
    }
    return [
        Problem(f"{at}.{key}", values[key], what, fix)
        for key, what, fix in support_problems(gpu, model.dtype, model.quantization)
    ]


def fit_problems(at: str, model: ModelConfig, gpu: str) -> list[Problem]:
    """Shape errors vLLM refuses to start with, then the memory fit (an error unless `fit: warn`)."""
    from llmops.components.capacity.catalog import CatalogError
    from llmops.components.capacity.models import get_model, model_fit, valid_tp_sizes
    from llmops.infra.config import Problem

    try:
        spec = get_model(model.source)
    except CatalogError:
        return []  # not in the capacity catalog: nothing to check against
    problems: list[Problem] = []
    tp = model.tensor_parallel_size
    kv_ok = spec.kv_heads % tp == 0 if tp <= spec.kv_heads else tp % spec.kv_heads == 0
    if spec.attention_heads % tp or not kv_ok:
        choices = [
            t
            for t in valid_tp_sizes(spec)
            if (spec.kv_heads % t == 0 if t <= spec.kv_heads else t % spec.kv_heads == 0)
        ]
        problems.append(
            Problem(
                f"{at}.tensorParallelSize",
                tp,
                f"does not divide {spec.model_id}'s {spec.attention_heads} attention heads and "
                f"{spec.kv_heads} KV heads evenly across GPUs",
                f"use one of {', '.join(map(str, choices))}",
            )
        )
    if model.max_model_len is not None and model.max_model_len > spec.max_position_embeddings:
        problems.append(
            Problem(
                f"{at}.maxModelLen",
                model.max_model_len,
                f"is beyond {spec.model_id}'s context of {spec.max_position_embeddings} tokens",
                f"set maxModelLen <= {spec.max_position_embeddings}, or leave it unset",
            )
        )
    if problems or model.fit == "warn":
        return problems
    try:
        verdict = model_fit(
            model.source,
            gpu,
            tp,
            max_model_len=model.max_model_len,
            dtype=None if model.dtype.value == "auto" else model.dtype.value,
            quantization=model.quantization.value if model.quantization else None,
            gpu_memory_utilization=model.gpu_memory_utilization,
        )
    except CatalogError:
        return []  # the GPU or the precision is not in the catalog
    if not verdict.fits:
        hint = (
            f"use tensorParallelSize: {verdict.suggested_tensor_parallel}, "
            if verdict.suggested_tensor_parallel
            else ""
        )
        problems.append(
            Problem(
                at,
                model.name,
                f"does not fit {tp} x {verdict.gpu}: " + "; ".join(verdict.problems),
                f"{hint}lower maxModelLen, pick a bigger GPU or a quantized checkpoint, "
                "or set fit: warn to deploy anyway",
            )
        )
    return problems


def region_problems(provider_keys: Mapping[str, Any]) -> list[Problem]:
    """Each cloud's region key (`<provider>:region`), checked against the regions its kit knows."""
    from llmops.components.cloud import all_kits
    from llmops.infra.config import Problem

    problems: list[Problem] = []
    for cloud in all_kits():
        if cloud.region_key not in provider_keys:
            continue
        region = provider_keys[cloud.region_key]
        known = cloud.known_regions()
        if isinstance(region, str) and region in known:
            continue
        close = difflib.get_close_matches(str(region), sorted(known), n=1, cutoff=0.6)
        problems.append(
            Problem(
                cloud.region_key,
                region,
                f"is not an {cloud.display_name} region"
                if cloud.display_name[:1].upper() in "AEIOU"
                else f"is not a {cloud.display_name} region",
                f"did you mean {close[0]!r}?"
                if close
                else f"use a region name such as {cloud.default_region!r}",
            )
        )
    return problems
