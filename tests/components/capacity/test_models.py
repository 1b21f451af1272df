"""Memory fit and the throughput model."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from llmops.components.capacity.catalog import CatalogError
from llmops.components.capacity.models import GIB, get_model, model_fit
from llmops.components.capacity.throughput import (
    Slo,
    TokenMix,
    replica_capacity,
    replica_perf,
    replicas_for_rate,
)

LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"
LLAMA_70B = "meta-llama/Llama-3.1-70B-Instruct"


def test_kv_bytes_per_token_follows_the_config() -> None:
    # 2 (K, V) x 32 layers x 8 KV heads x 128 head dim x 2 bytes = 128 KiB per token.
    assert get_model(LLAMA_8B).kv_bytes_per_token() == 2 * 32 * 8 * 128 * 2
    # Qwen2.5-0.5B: 24 layers, 2 KV heads, head dim 64.
    assert get_model("Qwen/Qwen2.5-0.5B-Instruct").kv_bytes_per_token() == 2 * 24 * 2 * 64 * 2
    # FP8 KV cache halves it; TP 2 halves it per GPU.
    assert get_model(LLAMA_8B).kv_bytes_per_token("fp8") == 2 * 32 * 8 * 128
    assert get_model(LLAMA_8B).kv_bytes_per_token(tp=2) == 2 * 32 * 4 * 128 * 2


def test_weights_by_dtype() -> None:
    model = get_model(LLAMA_70B)
    assert model.weight_bytes() == pytest.approx(70.55e9 * 2)
    # Quantization compresses the transformer blocks; embeddings and head stay 16-bit
    # (2 x 128256 x 8192 parameters for Llama-3.1-70B).
    embeddings = 2 * 128256 * 8192
    assert model.weight_bytes(quantization="fp8") == pytest.approx((70.55e9 - embeddings) + embeddings * 2)
    assert model.weight_bytes(quantization="awq") < model.weight_bytes(quantization="fp8")
    # Llama-3.1-8B as AWQ int4 (group 128): about 5.7 GB, as the published checkpoints are, where
    # parameters x 4 bits would say 4.0 GB.
    awq_8b = get_model(LLAMA_8B).weight_bytes(quantization="awq")
    assert 5.5e9 < awq_8b < 5.9e9


def test_70b_needs_more_than_one_h100_and_tp4_is_suggested() -> None:
    one = model_fit(LLAMA_70B, "H100", 1)
    assert not one.fits
    assert "do not fit in 1 x H100" in one.message
    assert one.suggested_tensor_parallel == 4
    four = model_fit(LLAMA_70B, "H100", 4)
    assert four.fits and four.usable
    assert four.kv_cache_tokens >= 131072


def test_8b_on_l4_needs_a_shorter_context() -> None:
    full = model_fit(LLAMA_8B, "L4", 1)
    assert not full.fits
    assert f"set max_model_len <= {full.kv_cache_tokens}" in full.message
    short = model_fit(LLAMA_8B, "L4", 1, max_model_len=8192)
    assert short.fits and short.usable
    assert 2 < short.kv_cache_gib < 6
    assert short.kv_cache_tokens == int(short.kv_cache_gib * GIB // short.kv_bytes_per_token)


def test_tp_must_divide_attention_heads() -> None:
    verdict = model_fit("Qwen/Qwen2.5-0.5B-Instruct", "L4", 4)
    assert not verdict.fits
    assert "does not divide the model's 14 attention heads; use one of 1, 2, 7" in verdict.message


def test_unknown_model_lists_the_catalog() -> None:
    with pytest.raises(
        CatalogError, match=r"model 'acme/unknown' is not in the catalog; known models: .*Llama"
    ):
        model_fit("acme/unknown", "H100", 1)


def test_h100_outruns_a100_outruns_l4_for_8b() -> None:
    mix = TokenMix(1000, 200)
    rates = [
        replica_capacity(replica_perf(LLAMA_8B, gpu, max_model_len=8192), mix).requests_per_s
        for gpu in ("L4", "A100-80GB", "H100")
    ]
    assert rates[0] < rates[1] < rates[2]


def test_itl_slo_limits_the_batch() -> None:
    perf = replica_perf(LLAMA_8B, "L4", max_model_len=8192)
    loose = replica_capacity(perf, TokenMix(500, 200), Slo(itl_s=0.2))
    tight = replica_capacity(perf, TokenMix(500, 200), Slo(itl_s=0.08))
    assert tight.batch < loose.batch
    assert tight.meets_itl
    # The step the SLO bounds is the steady-state one: decode plus the overlapped prompt chunk.
    assert tight.decode_step_s <= 0.08 < perf.mixed_step_s(tight.batch + 1, TokenMix(500, 200))


@given(
    rate=st.floats(0, 1e4, allow_nan=False),
    extra=st.floats(0, 1e4, allow_nan=False),
    per_replica=st.floats(0.01, 100, allow_nan=False),
)
def test_more_load_never_needs_fewer_replicas(rate: float, extra: float, per_replica: float) -> None:
    assert replicas_for_rate(rate + extra, per_replica) >= replicas_for_rate(rate, per_replica)


@given(
    input_tokens=st.integers(1, 4000),
    output_tokens=st.integers(1, 1000),
    extra_in=st.integers(0, 4000),
    extra_out=st.integers(0, 1000),
)
def test_longer_requests_never_raise_per_replica_capacity(
    input_tokens: int, output_tokens: int, extra_in: int, extra_out: int
) -> None:
    perf = replica_perf(LLAMA_8B, "H100", max_model_len=8192)
    short = replica_capacity(perf, TokenMix(input_tokens, output_tokens))
    long = replica_capacity(perf, TokenMix(input_tokens + extra_in, output_tokens + extra_out))
    assert long.requests_per_s <= short.requests_per_s * (1 + 1e-9)


def test_no_throughput_for_a_replica_that_cannot_start() -> None:
    with pytest.raises(CatalogError, match=r"does not fit 1 x H100: weights \(131.4 GiB\)"):
        replica_perf(LLAMA_70B, "H100", 1)
