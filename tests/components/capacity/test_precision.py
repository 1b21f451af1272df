"""Precision in the memory fit and the throughput model: bytes, peaks, and what vLLM refuses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llmops.components.capacity.catalog import CatalogError, load_catalog
from llmops.components.capacity.models import model_catalog, model_fit
from llmops.components.capacity.precision import resolve_precision
from llmops.components.capacity.throughput import Slo, TokenMix, replica_capacity, replica_perf

LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"
LLAMA_70B = "meta-llama/Llama-3.1-70B-Instruct"

# From the most to the least bytes per weight: each step down may only ever fit more.
WEIGHT_LADDER: list[tuple[str | None, str | None]] = [
    ("float32", None),
    ("bfloat16", None),
    (None, "fp8"),
    (None, "gptq"),
]
GPUS_WITH_FP8_AND_INT4 = ["L4", "L40S", "A100-80GB", "H100", "H200", "A10G"]


@settings(max_examples=40, deadline=None)
@given(
    model=st.sampled_from(sorted(model_catalog())),
    gpu=st.sampled_from(GPUS_WITH_FP8_AND_INT4),
    tp=st.sampled_from([1, 2, 4, 8]),
    context=st.integers(512, 32768),
    rung=st.integers(0, len(WEIGHT_LADDER) - 2),
    fp8_kv=st.booleans(),
)
def test_higher_precision_never_fits_more(
    model: str, gpu: str, tp: int, context: int, rung: int, fp8_kv: bool
) -> None:
    kv = "fp8" if fp8_kv else "auto"
    wide_dtype, wide_quant = WEIGHT_LADDER[rung]
    narrow_dtype, narrow_quant = WEIGHT_LADDER[rung + 1]
    wide = model_fit(
        model,
        gpu,
        tp,
        max_model_len=context,
        dtype=wide_dtype,
        quantization=wide_quant,
        kv_cache_dtype=kv if wide_dtype != "float32" else "auto",
    )
    narrow = model_fit(
        model,
        gpu,
        tp,
        max_model_len=context,
        dtype=narrow_dtype,
        quantization=narrow_quant,
        kv_cache_dtype=kv,
    )
    assert wide.weights_gib >= narrow.weights_gib
    assert wide.kv_cache_tokens <= narrow.kv_cache_tokens
    assert not (wide.fits and not narrow.fits)
    # A 16-bit KV cache never holds more tokens than an FP8 one.
    full_kv = model_fit(model, gpu, tp, max_model_len=context, dtype=narrow_dtype, quantization=narrow_quant)
    half_kv = model_fit(
        model,
        gpu,
        tp,
        max_model_len=context,
        dtype=narrow_dtype,
        quantization=narrow_quant,
        kv_cache_dtype="fp8",
    )
    assert full_kv.kv_cache_tokens <= half_kv.kv_cache_tokens


def test_a_70b_fp8_replica_fits_one_h200_and_one_h100_with_a_short_context() -> None:
    # 72.7 GB of FP8 weights (embeddings and head at bf16): one H200 holds them with room for
    # a long context; one H100 (80 GB at 90 %) only with little KV cache.
    assert not model_fit(LLAMA_70B, "H100", 1).fits
    h200 = model_fit(LLAMA_70B, "H200", 1, quantization="fp8", max_model_len=32768)
    assert h200.fits and h200.usable and h200.precision == "FP8 W8A8"
    assert 67 < h200.weights_gib < 68.5
    h100 = model_fit(LLAMA_70B, "H100", 1, quantization="fp8", max_model_len=2048)
    assert h100.fits


def test_fp8_runs_on_fp8_tensor_cores_only_where_the_gpu_has_them() -> None:
    catalog = load_catalog()
    assert resolve_precision(catalog.gpu("H100"), quantization="fp8").compute == "fp8"
    assert resolve_precision(catalog.gpu("L4"), quantization="fp8").compute == "fp8"
    # Ampere runs FP8 checkpoints weight-only (FP8 Marlin): 1 byte per weight, 16-bit matmuls.
    ampere = resolve_precision(catalog.gpu("A100-80GB"), quantization="fp8")
    assert ampere.compute == "fp16" and ampere.weight_only and ampere.label == "FP8 W8A16"
    h100 = catalog.gpu("H100")
    assert resolve_precision(h100, quantization="fp8").peak_tflops(h100) == h100.fp8_dense_tflops
    assert resolve_precision(h100, quantization="awq").peak_tflops(h100) == h100.fp16_dense_tflops


def test_what_vllm_refuses_is_a_problem_of_the_verdict() -> None:
    verdict = model_fit(LLAMA_8B, "T4", 1, quantization="fp8", max_model_len=4096)
    assert not verdict.fits
    assert "quantization 'fp8' needs compute capability 8 or higher in vLLM; T4 has 7.5" in verdict.message
    with pytest.raises(CatalogError, match="compressed-tensors' keeps its scheme"):
        resolve_precision(load_catalog().gpu("H100"), quantization="compressed-tensors")
    with pytest.raises(CatalogError, match="kv_cache_dtype 'fp4' is not one of auto"):
        resolve_precision(load_catalog().gpu("H100"), kv_cache_dtype="fp4")


def test_fp8_beats_bf16_on_hopper_and_int4_beats_bf16_in_single_stream_decode() -> None:
    mix = TokenMix(1000, 200)
    bf16 = replica_capacity(replica_perf(LLAMA_8B, "H100", max_model_len=8192), mix)
    fp8 = replica_capacity(replica_perf(LLAMA_8B, "H100", max_model_len=8192, quantization="fp8"), mix)
    assert fp8.requests_per_s > 1.3 * bf16.requests_per_s
    bf16_perf = replica_perf(LLAMA_8B, "A100-80GB", max_model_len=8192)
    int4_perf = replica_perf(LLAMA_8B, "A100-80GB", max_model_len=8192, quantization="awq")
    assert int4_perf.decode_step_s(1, 1000) < 0.5 * bf16_perf.decode_step_s(1, 1000)


def test_all_reduce_costs_more_over_pcie_and_with_bigger_messages() -> None:
    l40s = replica_perf(LLAMA_8B, "L40S", 2, max_model_len=8192)
    h100 = replica_perf(LLAMA_8B, "H100", 2, max_model_len=8192)
    assert l40s.all_reduce_s(1) > h100.all_reduce_s(1)
    assert h100.all_reduce_s(256) > h100.all_reduce_s(1)
    assert replica_perf(LLAMA_8B, "H100", 1, max_model_len=8192).all_reduce_s(256) == 0.0


def test_chunked_prefill_overlap_makes_a_prompt_token_cheaper_than_prefilling_it_alone() -> None:
    capacity = replica_capacity(replica_perf(LLAMA_8B, "A100-80GB", max_model_len=8192), TokenMix(2000, 200))
    assert capacity.prefill_s_per_token < 1 / capacity.prefill_tokens_per_s


def test_the_kv_batch_limit_counts_the_mean_context_in_flight() -> None:
    perf = replica_perf(LLAMA_8B, "L4", max_model_len=8192)
    capacity = replica_capacity(perf, TokenMix(1000, 1000), Slo(itl_s=10.0))
    # Prompt plus half the output on average: 1,500 tokens per running sequence, not 2,000.
    assert capacity.batch == perf.kv_cache_tokens // 1500
