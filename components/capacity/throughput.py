"""Roofline throughput model of one vLLM replica, and replicas needed for a load under an SLO.

One engine step runs the decode tokens of every running sequence plus a chunk of prompt tokens
(vLLM's chunked prefill). It reads every weight once (at the precision it is stored in) plus the
KV cache of the running sequences, and does 2 x parameters FLOPs per token plus attention: its
time is the larger of the memory and the compute time at calibrated efficiencies, plus a fixed
per-step cost and the tensor-parallel all-reduces, whose cost depends on the interconnect and the
message size. The constants and the measurements they were checked against are in
docs/capacity.md and tests/bench/bench_calibration.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from llmops.components.capacity.catalog import CatalogError, GpuSpec, load_catalog
from llmops.components.capacity.models import ModelSpec, get_model, model_fit
from llmops.components.capacity.precision import Precision, resolve_precision

# Share of peak memory bandwidth a step's weight and KV reads achieve (model bandwidth utilisation).
MEMORY_EFFICIENCY = 0.75
# Share of peak bandwidth the attention kernels reach reading a paged KV cache: scattered blocks of
# many sequences of different lengths stream less well than weights.
KV_READ_EFFICIENCY = 0.70
# Reads and writes of a token's hidden-size activations per layer outside the matrix multiplies
# (two norms, rotary, residual adds, the gated activation over the MLP width, quantisation).
ACTIVATION_PASSES = 10
# Share of the tensor peak a step's matrix multiplies achieve (MFU): 16-bit GEMMs reach a larger
# share of their peak than FP8 ones of the doubled FP8 peak (activation quantisation, and the
# same memory and power limits at twice the arithmetic rate).
COMPUTE_EFFICIENCY = 0.60
FP8_COMPUTE_EFFICIENCY = 0.50
# Scheduler, sampling and kernel-launch cost of one engine step (vLLM V1 with CUDA graphs).
STEP_OVERHEAD_S = 0.0015
# Tensor parallelism costs two all-reduces per layer per step (after attention and after the MLP):
# a fixed latency per all-reduce plus the ring's 2 (TP - 1) / TP x message bytes over the link.
ALL_REDUCE_LATENCY_S = {"nvlink": 10e-6, "pcie": 30e-6}
# Share of the one-direction link bandwidth (half the datasheet's bidirectional figure) that an
# NCCL / custom all-reduce reaches (its "bus bandwidth"): NVLink switches carry it GPU to GPU, PCIe
# through the host's root complexes, shared with every other GPU on the bus.
ALL_REDUCE_BANDWIDTH_EFFICIENCY = {"nvlink": 0.7, "pcie": 0.5}
# vLLM's default --max-num-seqs and the prompt tokens one step takes (--max-num-batched-tokens).
DEFAULT_MAX_NUM_SEQS = 256
DEFAULT_MAX_NUM_BATCHED_TOKENS = 8192


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
    """Inter-token latency: one engine step at the batch the replica runs."""


def _bf16() -> Precision:
    return Precision("bf16", 16.0, 2.0, "fp16", 2.0, weight_only=False)


@dataclass(frozen=True)
class ReplicaPerf:
    """Throughput figures of one replica (a model on `tp` GPUs of one type)."""

    model: ModelSpec
    gpu: GpuSpec
    tp: int
    kv_cache_tokens: int
    precision: Precision = field(default_factory=_bf16)
    max_num_batched_tokens: int = DEFAULT_MAX_NUM_BATCHED_TOKENS
    step_overhead_s: float = STEP_OVERHEAD_S
    """Fixed cost of one engine step (scheduling, sampling, launches); an engine property."""

    @property
    def weight_bytes_per_gpu(self) -> float:
        return self.model.decode_read_bytes(self.precision) / self.tp

    @property
    def kv_bytes_per_token(self) -> float:
        return self.model.kv_bytes_per_token(tp=self.tp, element_bytes=self.precision.kv_bytes)

    def step_s(
        self,
        decode_batch: float,
        context_tokens: float,
        prefill_tokens: float = 0.0,
        prompt_tokens: float = 0.0,
    ) -> float:
        """Seconds for one engine step: `decode_batch` sequences decoding one token each with
        `context_tokens` of KV on average, plus `prefill_tokens` prompt tokens of prompts
        `prompt_tokens` long (chunked prefill)."""
        model = self.model
        bandwidth = self.gpu.memory_bandwidth_gbps * 1e9
        # The matrix multiplies stream the weights once: bound by that read or by their FLOPs.
        gemm_flops = (
            2 * model.linear_params * (decode_batch + prefill_tokens) + 2 * model.head_params * decode_batch
        ) / self.tp
        gemm_s = max(
            self.weight_bytes_per_gpu / (bandwidth * MEMORY_EFFICIENCY),
            gemm_flops / (self.precision.peak_tflops(self.gpu) * 1e12 * self._gemm_efficiency),
        )
        # Attention is a separate kernel: bound by reading the running sequences' KV cache or by its
        # FLOPs (QK^T and AV, 4 x layers x query width per token and attended position; a prompt token
        # attends to half its prompt on average), at 16 bits whatever the weights are.
        kv_bytes = decode_batch * context_tokens * self.kv_bytes_per_token
        query_width = model.attention_heads * model.head_dim
        attention_flops = (
            4
            * model.layers
            * query_width
            * (decode_batch * context_tokens + prefill_tokens * prompt_tokens / 2)
        ) / self.tp
        attention_s = max(
            kv_bytes / (bandwidth * KV_READ_EFFICIENCY),
            attention_flops / (self.gpu.fp16_dense_tflops * 1e12 * COMPUTE_EFFICIENCY),
        )
        # Norms, activations, rotary, residual adds and (de)quantisation are memory-bound kernels over
        # each token's activations.
        tokens = decode_batch + prefill_tokens
        activation_bytes = tokens * model.layers * ACTIVATION_PASSES * model.hidden_size * 2 / self.tp
        elementwise_s = activation_bytes / (bandwidth * MEMORY_EFFICIENCY)
        return gemm_s + attention_s + elementwise_s + self.step_overhead_s + self.all_reduce_s(tokens)

    @property
    def _gemm_efficiency(self) -> float:
        if self.precision.compute == "fp8" and self.gpu.fp8_dense_tflops:
            return FP8_COMPUTE_EFFICIENCY
        return COMPUTE_EFFICIENCY

    def decode_step_s(self, batch: float, context_tokens: float) -> float:
        """Seconds for one decode-only step of `batch` sequences with `context_tokens` of KV each."""
        return self.step_s(batch, context_tokens)

    def all_reduce_s(self, tokens: float) -> float:
        """Tensor-parallel communication of one step over `tokens` tokens: two all-reduces per layer of
        tokens x hidden activations at 16 bits. L4, L40S, A10G and T4 have no NVLink: PCIe only."""
        if self.tp == 1:
            return 0.0
        link = "nvlink" if self.gpu.has_nvlink else "pcie"
        bandwidth = self.gpu.interconnect_gbps / 2 * 1e9 * ALL_REDUCE_BANDWIDTH_EFFICIENCY[link]
        message = tokens * self.model.hidden_size * 2
        per_all_reduce = ALL_REDUCE_LATENCY_S[link] + 2 * (self.tp - 1) / self.tp * message / bandwidth
        return 2 * self.model.layers * per_all_reduce

    def prefill_s(self, prompt_tokens: float) -> float:
        """Time to prefill one prompt alone, in chunks of --max-num-batched-tokens: the floor of TTFT."""
        if prompt_tokens <= 0:
            return 0.0
        chunks = math.ceil(prompt_tokens / self.max_num_batched_tokens)
        chunk = prompt_tokens / chunks
        return chunks * self.step_s(0, 0, chunk, prompt_tokens)

    def prefill_tokens_per_s(self, prompt_tokens: float) -> float:
        """Prompt tokens per second for one prompt of this length prefilled alone."""
        return max(prompt_tokens, 1.0) / self.prefill_s(max(prompt_tokens, 1.0))

    def mixed_step_s(self, batch: float, mix: TokenMix) -> float:
        """One step of the steady state at `batch` running sequences: each step carries, besides one
        decode token per sequence, the prompt tokens of the requests that replace finishing ones
        (input / output per decode token), so prefill shares the step's weight reads."""
        context = mix.input_tokens + mix.output_tokens / 2
        prefill = batch * mix.input_tokens / max(mix.output_tokens, 1.0)
        return self.step_s(batch, context, prefill, mix.input_tokens)


def replica_perf(
    model_id: str,
    gpu: str,
    tp: int = 1,
    *,
    max_model_len: int | None = None,
    dtype: str | None = None,
    quantization: str | None = None,
    kv_cache_dtype: str | None = None,
    gpu_memory_utilization: float | None = None,
) -> ReplicaPerf:
    extra = {} if gpu_memory_utilization is None else {"gpu_memory_utilization": gpu_memory_utilization}
    verdict = model_fit(
        model_id,
        gpu,
        tp,
        max_model_len=max_model_len,
        dtype=dtype,
        quantization=quantization,
        kv_cache_dtype=kv_cache_dtype,
        **extra,
    )
    if not verdict.fits:
        # A throughput figure for a replica vLLM would refuse to start is meaningless.
        raise CatalogError(verdict.message)
    spec = load_catalog().gpu(gpu)
    return ReplicaPerf(
        model=get_model(model_id),
        gpu=spec,
        tp=tp,
        kv_cache_tokens=verdict.kv_cache_tokens,
        precision=resolve_precision(
            spec, dtype=dtype, quantization=quantization, kv_cache_dtype=kv_cache_dtype
        ),
    )


@dataclass(frozen=True)
class ReplicaCapacity:
    """What one replica sustains for a token mix under an SLO."""

    batch: int
    """Concurrent sequences: the largest batch whose steps meet the ITL SLO, whose mean context in
    flight fits the KV cache, and within --max-num-seqs."""
    decode_step_s: float
    """One steady-state step at that batch (decode plus the overlapped prompt chunk): the ITL."""
    prefill_tokens_per_s: float
    """A mean prompt prefilled alone, tokens per second (TTFT)."""
    decode_s_per_token: float
    """Replica-seconds per generated token at that batch (a decode-only step / batch)."""
    service_s_per_request: float
    """Replica-seconds one mean request costs in the steady state, prefill overlapped with decode."""
    requests_per_s: float
    prefill_s: float
    """Prefill time of a mean prompt alone, the floor of TTFT."""
    meets_itl: bool
    meets_ttft: bool
    prefill_s_per_token: float = 0.0
    """Replica-seconds a prompt token adds to the steady state (less than 1 / prefill rate where
    prefill rides on memory-bound decode steps)."""
    mean_batch: float = 0.0
    """Running sequences in the steady state (fractional where the ITL SLO binds)."""

    def service_s(self, input_tokens: float, output_tokens: float) -> float:
        return input_tokens * self.prefill_s_per_token + output_tokens * self.decode_s_per_token

    @property
    def output_tokens_per_s(self) -> float:
        return (self.mean_batch or self.batch) / self.decode_step_s


def replica_capacity(
    perf: ReplicaPerf, mix: TokenMix, slo: Slo = Slo(), *, max_num_seqs: int = DEFAULT_MAX_NUM_SEQS
) -> ReplicaCapacity:
    # A running sequence holds its prompt plus, on average, half its output in KV: the batch the
    # cache holds is its tokens over that mean context, not over prompt + output.
    mean_context = mix.input_tokens + mix.output_tokens / 2
    kv_batch = max(1, int(perf.kv_cache_tokens // max(1.0, mean_context)))
    limit = max(1, min(kv_batch, max_num_seqs))
    meets_itl = perf.mixed_step_s(1, mix) <= slo.itl_s
    # Step time grows with batch: binary search for the largest batch within the ITL SLO.
    low, high = 1, limit
    while low < high:
        middle = (low + high + 1) // 2
        if perf.mixed_step_s(middle, mix) <= slo.itl_s:
            low = middle
        else:
            high = middle - 1
    batch = low
    # The steady state's mean batch need not be whole: between `low` and `low + 1` sequences the
    # ITL bound is met exactly at some fraction. Using it keeps capacity monotone in the token mix
    # (a whole batch would let a longer output amortise the step overhead over one more sequence).
    running = float(batch)
    if batch < limit and perf.mixed_step_s(batch, mix) <= slo.itl_s:
        low_b, high_b = float(batch), float(batch + 1)
        for _ in range(40):
            middle = (low_b + high_b) / 2
            low_b, high_b = (
                (middle, high_b) if perf.mixed_step_s(middle, mix) <= slo.itl_s else (low_b, middle)
            )
        running = low_b
    step = perf.mixed_step_s(running, mix)
    service = step * mix.output_tokens / running
    per_token = perf.decode_step_s(running, mean_context) / running
    prefill_share = max(0.0, service - mix.output_tokens * per_token)
    prefill_s = perf.prefill_s(mix.input_tokens)
    return ReplicaCapacity(
        batch=batch,
        decode_step_s=step,
        prefill_tokens_per_s=perf.prefill_tokens_per_s(mix.input_tokens),
        decode_s_per_token=per_token,
        service_s_per_request=service,
        requests_per_s=1 / service,
        prefill_s=prefill_s,
        meets_itl=meets_itl,
        meets_ttft=prefill_s <= slo.ttft_s,
        prefill_s_per_token=prefill_share / max(mix.input_tokens, 1.0),
        mean_batch=running,
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
