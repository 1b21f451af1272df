"""Roofline throughput model of one vLLM replica, and replicas needed for a load under an SLO.

A decode step reads every weight once plus the KV cache of every running sequence, and does
2 x params FLOPs per sequence: its time is the larger of the memory and the compute time at
calibrated efficiencies, plus a fixed per-step cost. Prefill is compute-bound. The efficiency
constants and the benchmarks they were checked against are in docs/capacity.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from components.capacity.catalog import CatalogError, GpuSpec, load_catalog
from components.capacity.models import ModelSpec, get_model, model_fit

# Share of peak memory bandwidth a decode step achieves (model bandwidth utilisation, MBU).
MEMORY_EFFICIENCY = 0.75
# Share of peak dense FP16 FLOPs achieved in prefill (MFU) and in compute-bound decode.
PREFILL_EFFICIENCY = 0.45
DECODE_COMPUTE_EFFICIENCY = 0.40
# Scheduler, sampling and kernel-launch cost of one engine step (vLLM V1 with CUDA graphs).
STEP_OVERHEAD_S = 0.0015
# Tensor parallelism costs two all-reduces per layer per step; per all-reduce latency.
ALL_REDUCE_LATENCY_S = {"nvlink": 8e-6, "pcie": 25e-6}
# vLLM's default --max-num-seqs.
DEFAULT_MAX_NUM_SEQS = 256


@dataclass(frozen=True)
class TokenMix:
    """Mean tokens per request."""

    input_tokens: float
    output_tokens: float


@dataclass(frozen=True)
class Slo:
    ttft_s: float = 2.0
    """Time to first token: queue wait plus prefill."""
    itl_s: float = 0.10
    """Inter-token latency: one decode step at the batch the replica runs."""


@dataclass(frozen=True)
class ReplicaPerf:
    """Throughput figures of one replica (a model on `tp` GPUs of one type)."""

    model: ModelSpec
    gpu: GpuSpec
    tp: int
    kv_cache_tokens: int

    @property
    def weight_bytes_per_gpu(self) -> float:
        return self.model.weight_bytes() / self.tp

    def decode_step_s(self, batch: int, context_tokens: float) -> float:
        """Seconds for one decode step of `batch` sequences with `context_tokens` of KV each."""
        kv_bytes = batch * context_tokens * self.model.kv_bytes_per_token(tp=self.tp)
        memory_s = (self.weight_bytes_per_gpu + kv_bytes) / (
            self.gpu.memory_bandwidth_gbps * 1e9 * MEMORY_EFFICIENCY
        )
        flops = 2 * self.model.params * batch / self.tp
        compute_s = flops / (self.gpu.fp16_dense_tflops * 1e12 * DECODE_COMPUTE_EFFICIENCY)
        return max(memory_s, compute_s) + STEP_OVERHEAD_S + self._tp_comm_s()

    def prefill_tokens_per_s(self, prompt_tokens: float) -> float:
        """Prompt tokens per second for prompts of this length (attention adds 2 x layers x hidden
        x position FLOPs per token on top of 2 x params)."""
        attention = 2 * self.model.layers * self.model.hidden_size * prompt_tokens
        flops_per_token = 2 * self.model.params + attention
        group_flops = self.gpu.fp16_dense_tflops * 1e12 * PREFILL_EFFICIENCY * self.tp
        return group_flops / flops_per_token / (1 + self._tp_comm_share())

    def _tp_comm_s(self) -> float:
        if self.tp == 1:
            return 0.0
        link = "nvlink" if self.gpu.interconnect.lower().startswith("nvlink") else "pcie"
        return 2 * self.model.layers * ALL_REDUCE_LATENCY_S[link]

    def _tp_comm_share(self) -> float:
        # Prefill all-reduces move activations; over PCIe that costs a noticeable share.
        if self.tp == 1:
            return 0.0
        return 0.05 if self.gpu.interconnect.lower().startswith("nvlink") else 0.20


def replica_perf(model_id: str, gpu: str, tp: int = 1, *, max_model_len: int | None = None) -> ReplicaPerf:
    verdict = model_fit(model_id, gpu, tp, max_model_len=max_model_len)
    if not verdict.fits:
        # A throughput figure for a replica vLLM would refuse to start is meaningless.
        raise CatalogError(verdict.message)
    return ReplicaPerf(
        model=get_model(model_id),
        gpu=load_catalog().gpu(gpu),
        tp=tp,
        kv_cache_tokens=verdict.kv_cache_tokens,
    )


@dataclass(frozen=True)
class ReplicaCapacity:
    """What one replica sustains for a token mix under an SLO."""

    batch: int
    """Concurrent sequences: the largest batch that meets the ITL SLO and fits the KV cache."""
    decode_step_s: float
    prefill_tokens_per_s: float
    decode_s_per_token: float
    """Replica-seconds per generated token at that batch (step time / batch)."""
    service_s_per_request: float
    """Replica-seconds one mean request costs: prefill + its share of decode steps."""
    requests_per_s: float
    prefill_s: float
    """Prefill time of a mean prompt, the floor of TTFT."""
    meets_itl: bool
    meets_ttft: bool

    def service_s(self, input_tokens: float, output_tokens: float) -> float:
        return input_tokens / self.prefill_tokens_per_s + output_tokens * self.decode_s_per_token


def replica_capacity(
    perf: ReplicaPerf, mix: TokenMix, slo: Slo = Slo(), *, max_num_seqs: int = DEFAULT_MAX_NUM_SEQS
) -> ReplicaCapacity:
    # A sequence holds its prompt plus, on average, half its output in KV while decoding.
    mean_context = mix.input_tokens + mix.output_tokens / 2
    kv_batch = max(1, int(perf.kv_cache_tokens // max(1.0, mix.input_tokens + mix.output_tokens)))
    limit = max(1, min(kv_batch, max_num_seqs))
    meets_itl = perf.decode_step_s(1, mean_context) <= slo.itl_s
    # Step time grows with batch: binary search for the largest batch within the ITL SLO.
    low, high = 1, limit
    while low < high:
        middle = (low + high + 1) // 2
        if perf.decode_step_s(middle, mean_context) <= slo.itl_s:
            low = middle
        else:
            high = middle - 1
    batch = low
    step = perf.decode_step_s(batch, mean_context)
    prefill_rate = perf.prefill_tokens_per_s(mix.input_tokens)
    per_token = step / batch
    service = mix.input_tokens / prefill_rate + mix.output_tokens * per_token
    prefill_s = mix.input_tokens / prefill_rate
    return ReplicaCapacity(
        batch=batch,
        decode_step_s=step,
        prefill_tokens_per_s=prefill_rate,
        decode_s_per_token=per_token,
        service_s_per_request=service,
        requests_per_s=1 / service,
        prefill_s=prefill_s,
        meets_itl=meets_itl,
        meets_ttft=prefill_s <= slo.ttft_s,
    )


def replicas_for_rate(rate_rps: float, per_replica_rps: float, *, headroom: float = 1.0) -> int:
    """Replicas that serve `rate_rps` when each sustains `per_replica_rps` at `headroom` utilisation.

    Monotone in the rate by construction; the small epsilon keeps 10 / 0.5 at 20, not 21.
    """
    if per_replica_rps <= 0:
        raise ValueError(f"per-replica capacity must be positive, got {per_replica_rps}")
    if rate_rps <= 0:
        return 0
    return math.ceil(rate_rps / (per_replica_rps * headroom) - 1e-9)
