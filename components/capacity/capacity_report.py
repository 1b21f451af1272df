"""One replica's fit and throughput as `llmops capacity` reports it."""

from __future__ import annotations

from llmops.components.capacity.models import model_fit
from llmops.components.capacity.throughput import (
    DEFAULT_MAX_NUM_SEQS,
    ReplicaPerf,
    Slo,
    TokenMix,
    replica_capacity,
    replica_perf,
)


def at_concurrency(
    perf: ReplicaPerf, mix: TokenMix, concurrency: int, max_num_seqs: int = DEFAULT_MAX_NUM_SEQS
) -> dict[str, float]:
    """Closed loop of `concurrency` clients: each sends its next request when the last one finishes.
    Up to the KV-cache and --max-num-seqs limit all run at once; beyond it the rest wait (Little's law)."""
    mean_context = mix.input_tokens + mix.output_tokens / 2
    running = max(1, min(concurrency, int(perf.kv_cache_tokens // max(mean_context, 1.0)), max_num_seqs))
    itl = perf.mixed_step_s(running, mix) if running > 1 else perf.decode_step_s(1, mean_context)
    prefill = perf.prefill_s(mix.input_tokens)
    requests_per_s = running / (prefill + mix.output_tokens * itl)
    ttft = concurrency / requests_per_s - mix.output_tokens * itl
    return {
        "running": running,
        "output_tokens_per_s": requests_per_s * mix.output_tokens,
        "requests_per_s": requests_per_s,
        "ttft_s": max(ttft, prefill),
        "itl_s": itl,
    }


def capacity_report(
    model: str,
    gpu: str,
    tp: int = 1,
    *,
    dtype: str | None = None,
    quantization: str | None = None,
    kv_cache_dtype: str | None = None,
    input_tokens: float = 1000,
    output_tokens: float = 200,
    concurrency: int | None = None,
    max_model_len: int | None = None,
    slo: Slo | None = None,
) -> dict[str, object]:
    """`{"fits", "weights_gib", "kv_cache_tokens", "max_model_len", "throughput": {...}, "latency": {...}}`;
    throughput and latency are null where the replica does not fit. Without `concurrency` the figures
    are at the SLO knee: the largest batch whose steps meet the ITL SLO."""
    verdict = model_fit(
        model,
        gpu,
        tp,
        max_model_len=max_model_len,
        dtype=dtype,
        quantization=quantization,
        kv_cache_dtype=kv_cache_dtype,
    )
    report: dict[str, object] = {
        "model": verdict.model_id,
        "gpu": verdict.gpu,
        "tensor_parallel": tp,
        "precision": verdict.precision,
        "fits": verdict.fits,
        "weights_gib": round(verdict.weights_gib, 2),
        "kv_cache_tokens": verdict.kv_cache_tokens,
        "max_model_len": verdict.max_model_len,
        "max_model_len_supported": verdict.max_model_len_supported,
        "message": verdict.message,
        "concurrency": concurrency,
        "throughput": {"output_tokens_per_s": None, "requests_per_s": None},
        "latency": {"ttft_s": None, "itl_s": None},
    }
    if not verdict.fits:
        return report
    perf = replica_perf(
        model,
        gpu,
        tp,
        max_model_len=max_model_len,
        dtype=dtype,
        quantization=quantization,
        kv_cache_dtype=kv_cache_dtype,
    )
    mix = TokenMix(input_tokens, output_tokens)
    if concurrency is None:
        capacity = replica_capacity(perf, mix, slo or Slo())
        figures = {
            "output_tokens_per_s": capacity.requests_per_s * output_tokens,
            "requests_per_s": capacity.requests_per_s,
            "ttft_s": capacity.prefill_s,
            "itl_s": capacity.decode_step_s,
        }
        report["concurrency"] = capacity.batch
    else:
        figures = at_concurrency(perf, mix, concurrency)
    report["throughput"] = {
        "output_tokens_per_s": round(figures["output_tokens_per_s"], 2),
        "requests_per_s": round(figures["requests_per_s"], 4),
    }
    report["latency"] = {"ttft_s": round(figures["ttft_s"], 4), "itl_s": round(figures["itl_s"], 5)}
    return report
