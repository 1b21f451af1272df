"""Model catalog and GPU memory fit: weights + KV cache + runtime overhead on a GPU x TP size."""

from __future__ import annotations

import csv
import functools
import io
import math
from dataclasses import dataclass, field
from importlib import resources

from llmops.components.capacity.catalog import CatalogError, GpuSpec, load_catalog
from llmops.components.capacity.precision import (
    _QUANTIZED_BITS,
    DTYPES,
    KV_CACHE_DTYPES,
    Precision,
    resolve_precision,
)

GIB = 1024**3

# vLLM's default --gpu-memory-utilization: the share of device memory the engine may use.
DEFAULT_GPU_MEMORY_UTILIZATION = 0.90
# Per-GPU memory vLLM needs besides weights and KV cache: CUDA context, NCCL buffers, the
# activation peak of its profiling run and CUDA graphs. 1.5-3 GiB is what its start-up log shows
# for 7-70B models; 2 GiB is the middle.
RUNTIME_OVERHEAD_GIB = 2.0
# A KV budget is "usable" when it holds this many concurrent sequences of this length as well
# as one sequence of max_model_len (vLLM's own start-up check).
USABLE_CONCURRENT_SEQUENCES = 8
USABLE_SEQUENCE_TOKENS = 2048


@dataclass(frozen=True)
class ModelSpec:
    model_id: str
    params_b: float
    """Parameters in billions."""
    layers: int
    hidden_size: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    vocab_size: int
    tie_word_embeddings: bool
    """One matrix serves as token embedding and output head (small models)."""
    max_position_embeddings: int
    default_dtype: str
    source: str

    @property
    def params(self) -> float:
        return self.params_b * 1e9

    @property
    def embedding_params(self) -> float:
        """Token embeddings plus the output head (counted once when they are tied)."""
        return self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2)

    @property
    def linear_params(self) -> float:
        """Parameters of the transformer blocks: what weight quantization compresses."""
        return self.params - self.embedding_params

    @property
    def head_params(self) -> float:
        return float(self.vocab_size * self.hidden_size)

    def weight_bytes_at(self, precision: Precision) -> float:
        """Bytes of weights in memory: linear layers at the quantized width, embeddings and head at the
        checkpoint's dtype."""
        return (
            self.linear_params * precision.linear_bits / 8 + self.embedding_params * precision.embedding_bytes
        )

    def decode_read_bytes(self, precision: Precision) -> float:
        """Weight bytes one decode step reads: every linear layer and the output head (an embedding
        lookup reads only the rows of the batch's tokens)."""
        return self.linear_params * precision.linear_bits / 8 + self.head_params * precision.embedding_bytes

    def weight_bytes(self, dtype: str | None = None, quantization: str | None = None) -> float:
        """Bytes of weights for a dtype or quantization, independent of the GPU (see `weight_bytes_at`)."""
        if quantization is not None:
            if quantization not in _QUANTIZED_BITS:
                raise CatalogError(
                    f"quantization {quantization!r} is unknown; "
                    f"use one of {', '.join(sorted(_QUANTIZED_BITS))}"
                )
            return self.linear_params * _QUANTIZED_BITS[quantization] / 8 + self.embedding_params * 2.0
        key = dtype or "auto"
        if key not in DTYPES and key not in ("fp8", "int8"):
            raise CatalogError(f"dtype {key!r} is unknown; use one of {', '.join(DTYPES)}")
        if key in ("fp8", "int8"):
            return self.linear_params + self.embedding_params * 2.0
        return self.params * (4.0 if key == "float32" else 2.0)

    def kv_bytes_per_token(
        self, kv_cache_dtype: str = "auto", tp: int = 1, *, element_bytes: float | None = None
    ) -> float:
        """KV cache bytes per token on one GPU of a TP group: 2 (K and V) x layers x KV heads x head dim
        x bytes. With TP larger than the KV head count, vLLM replicates KV heads, so each GPU keeps one."""
        if kv_cache_dtype not in KV_CACHE_DTYPES:
            raise CatalogError(
                f"kv_cache_dtype {kv_cache_dtype!r} is unknown; use one of {', '.join(KV_CACHE_DTYPES)}"
            )
        element = element_bytes or (1.0 if kv_cache_dtype.startswith("fp8") else 2.0)
        heads_per_gpu = max(1, self.kv_heads // tp) if tp > 1 else self.kv_heads
        return 2 * self.layers * heads_per_gpu * self.head_dim * element


@functools.cache
def model_catalog() -> dict[str, ModelSpec]:
    text = (
        resources.files("llmops.components.capacity")
        .joinpath("data", "models.csv")
        .read_text(encoding="utf-8")
    )
    models: dict[str, ModelSpec] = {}
    for row in csv.DictReader(io.StringIO(text)):
        models[row["model_id"]] = ModelSpec(
            model_id=row["model_id"],
            params_b=float(row["params_b"]),
            layers=int(row["layers"]),
            hidden_size=int(row["hidden_size"]),
            attention_heads=int(row["attention_heads"]),
            kv_heads=int(row["kv_heads"]),
            head_dim=int(row["head_dim"]),
            vocab_size=int(row["vocab_size"]),
            tie_word_embeddings=row["tie_word_embeddings"].strip().lower() == "true",
            max_position_embeddings=int(row["max_position_embeddings"]),
            default_dtype=row["default_dtype"],
            source=row["source"],
        )
    return models


def get_model(model_id: str) -> ModelSpec:
    models = model_catalog()
    if model_id in models:
        return models[model_id]
    # Hub ids are case-insensitive in practice; accept a case slip instead of failing.
    for known, spec in models.items():
        if known.lower() == model_id.lower():
            return spec
    raise CatalogError(f"model {model_id!r} is not in the catalog; known models: {', '.join(sorted(models))}")


@dataclass(frozen=True)
class FitVerdict:
    """Whether a model fits a GPU x tensor-parallel size, and with how much KV cache."""

    model_id: str
    gpu: str
    tensor_parallel: int
    fits: bool
    """True when weights fit and the KV cache holds one full `max_model_len` sequence."""
    usable: bool
    """fits, and the KV cache also holds USABLE_CONCURRENT_SEQUENCES x USABLE_SEQUENCE_TOKENS."""
    weights_gib: float
    """Weights over the whole TP group."""
    kv_cache_gib: float
    """KV budget over the whole TP group (negative when weights alone do not fit)."""
    kv_bytes_per_token: float
    """Per GPU of the group."""
    kv_cache_tokens: int
    max_model_len: int
    max_model_len_supported: int
    """Longest context the KV budget holds (0 when weights do not fit)."""
    suggested_tensor_parallel: int | None
    """Smallest TP size (up to 8) with a usable KV budget on this GPU; None if none."""
    message: str
    problems: tuple[str, ...] = field(default=())
    precision: str = "bf16"
    """What the replica runs at: `bf16`, `FP8 W8A8`, `AWQ W4A16`, ..."""

    def to_json(self) -> dict[str, object]:
        return {
            "model": self.model_id,
            "gpu": self.gpu,
            "tensor_parallel": self.tensor_parallel,
            "fits": self.fits,
            "usable": self.usable,
            "weights_gib": round(self.weights_gib, 2),
            "kv_cache_gib": round(self.kv_cache_gib, 2),
            "kv_cache_tokens": self.kv_cache_tokens,
            "max_model_len": self.max_model_len,
            "max_model_len_supported": self.max_model_len_supported,
            "suggested_tensor_parallel": self.suggested_tensor_parallel,
            "precision": self.precision,
            "message": self.message,
            "problems": list(self.problems),
        }


def valid_tp_sizes(model: ModelSpec, limit: int = 8) -> list[int]:
    """TP sizes vLLM accepts for this model: attention heads must divide evenly across GPUs."""
    return [tp for tp in range(1, limit + 1) if model.attention_heads % tp == 0]


def _kv_budget(
    model: ModelSpec,
    gpu: GpuSpec,
    tp: int,
    *,
    precision: Precision,
    gpu_memory_utilization: float,
) -> tuple[float, float, float]:
    """(weights bytes, KV bytes over the group, KV bytes per token per GPU). vLLM shards every
    weight, embeddings and head included, across the TP group."""
    weights = model.weight_bytes_at(precision)
    per_gpu_budget = gpu.memory_gib * GIB * gpu_memory_utilization - RUNTIME_OVERHEAD_GIB * GIB
    kv_per_gpu = per_gpu_budget - weights / tp
    per_token = model.kv_bytes_per_token(tp=tp, element_bytes=precision.kv_bytes)
    return weights, kv_per_gpu * tp, per_token


def model_fit(
    model_id: str,
    gpu: str,
    count: int = 1,
    *,
    max_model_len: int | None = None,
    dtype: str | None = None,
    quantization: str | None = None,
    kv_cache_dtype: str | None = "auto",
    gpu_memory_utilization: float = DEFAULT_GPU_MEMORY_UTILIZATION,
) -> FitVerdict:
    """Fit of `model_id` on `count` GPUs of type `gpu` used as one tensor-parallel group.

    `max_model_len` defaults to the model's own context length, as vLLM does. `dtype`,
    `quantization` and `kv_cache_dtype` take vLLM's values (components.capacity.precision); a
    combination vLLM refuses on this GPU (FP8 on a T4, say) is a problem of the verdict.
    """
    model = get_model(model_id)
    spec = load_catalog().gpu(gpu)
    if count < 1:
        raise CatalogError(f"gpu count {count} must be at least 1")
    context = max_model_len or model.max_position_embeddings
    problems: list[str] = []
    try:
        precision = resolve_precision(
            spec, dtype=dtype, quantization=quantization, kv_cache_dtype=kv_cache_dtype
        )
    except CatalogError as exc:
        return FitVerdict(
            model_id=model.model_id,
            gpu=spec.name,
            tensor_parallel=count,
            fits=False,
            usable=False,
            weights_gib=0.0,
            kv_cache_gib=0.0,
            kv_bytes_per_token=0.0,
            kv_cache_tokens=0,
            max_model_len=context,
            max_model_len_supported=0,
            suggested_tensor_parallel=None,
            message=f"{model.model_id} cannot run on {spec.name}: {exc}",
            problems=(str(exc),),
        )
    if model.attention_heads % count:
        problems.append(
            f"tensor parallel size {count} does not divide the model's {model.attention_heads} attention "
            f"heads; use one of {', '.join(map(str, valid_tp_sizes(model)))}"
        )
    if context > model.max_position_embeddings:
        problems.append(
            f"max_model_len {context} exceeds the model's context of {model.max_position_embeddings} tokens"
        )
    weights, kv_total, kv_per_token = _kv_budget(
        model, spec, count, precision=precision, gpu_memory_utilization=gpu_memory_utilization
    )
    kv_tokens = max(0, math.floor(kv_total / count / kv_per_token)) if kv_total > 0 else 0
    supported = min(kv_tokens, model.max_position_embeddings)
    usable_tokens = max(context, USABLE_CONCURRENT_SEQUENCES * USABLE_SEQUENCE_TOKENS)
    if kv_total <= 0:
        problems.append(
            f"weights ({weights / GIB:.1f} GiB) plus runtime overhead do not fit in {count} x {spec.name} "
            f"({spec.memory_gib:.1f} GiB each at {gpu_memory_utilization:.0%} utilisation)"
        )
    elif kv_tokens < context:
        problems.append(
            f"KV cache holds {kv_tokens} tokens, fewer than max_model_len {context}; set max_model_len "
            f"<= {kv_tokens} or use more GPUs"
        )
    fits = not problems
    usable = fits and kv_tokens >= usable_tokens

    suggested: int | None = None
    for tp in valid_tp_sizes(model):
        _, kv_tp, per_token_tp = _kv_budget(
            model, spec, tp, precision=precision, gpu_memory_utilization=gpu_memory_utilization
        )
        if kv_tp > 0 and kv_tp / tp / per_token_tp >= min(usable_tokens, model.max_position_embeddings):
            suggested = tp
            break

    if fits:
        message = (
            f"{model.model_id} ({precision.label}) fits {count} x {spec.name}: weights "
            f"{weights / GIB:.1f} GiB, KV cache {kv_total / GIB:.1f} GiB = {kv_tokens} tokens"
        )
        if not usable:
            message += f" (tight: fewer than {usable_tokens} tokens for concurrent requests)"
    else:
        message = f"{model.model_id} does not fit {count} x {spec.name}: " + "; ".join(problems)
    if suggested is not None and suggested != count and not usable:
        message += f"; smallest TP size with a usable KV cache: {suggested}"
    return FitVerdict(
        model_id=model.model_id,
        gpu=spec.name,
        tensor_parallel=count,
        fits=fits,
        usable=usable,
        weights_gib=weights / GIB,
        kv_cache_gib=kv_total / GIB,
        kv_bytes_per_token=kv_per_token,
        kv_cache_tokens=kv_tokens,
        max_model_len=context,
        max_model_len_supported=supported,
        suggested_tensor_parallel=suggested,
        message=message,
        problems=tuple(problems),
        precision=precision.label,
    )
