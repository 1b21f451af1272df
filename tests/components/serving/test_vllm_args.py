"""Every `vllm serve` flag llmops emits exists in the pinned vLLM release."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from llmops.components.serving.vllm_args import MANAGED_FLAGS, Dtype, EngineSpec, Quantization, serve_args

from tests.conftest import require_shared


def known_flags() -> set[str]:
    path = require_shared("reference/vllm/serve-flags.txt")
    return {line.strip() for line in path.read_text().splitlines() if line.startswith("-")}


def flags_in(args: list[str]) -> list[str]:
    return [a for a in args if a.startswith("-")]


specs = st.builds(
    EngineSpec,
    model=st.sampled_from(["Qwen/Qwen2.5-0.5B-Instruct", "meta-llama/Llama-3.1-8B-Instruct", "/models/x"]),
    revision=st.none() | st.just("main"),
    served_model_name=st.none() | st.just("chat"),
    tensor_parallel_size=st.integers(1, 8),
    pipeline_parallel_size=st.integers(1, 4),
    max_model_len=st.none() | st.integers(128, 131072),
    dtype=st.sampled_from(list(Dtype)),
    quantization=st.none() | st.sampled_from(list(Quantization)),
    kv_cache_dtype=st.sampled_from(["auto", "fp8", "fp8_e4m3"]),
    gpu_memory_utilization=st.floats(0.2, 0.98),
    enable_prefix_caching=st.booleans(),
    max_num_seqs=st.none() | st.integers(1, 1024),
)


@given(specs)
def test_every_emitted_flag_exists_in_the_pinned_release(spec: EngineSpec) -> None:
    unknown = [f for f in flags_in(serve_args(spec, download_dir="/cache")) if f not in known_flags()]
    assert unknown == [], f"flags missing from vLLM's option list: {unknown}"


def test_every_managed_flag_exists_in_the_pinned_release() -> None:
    assert sorted(f"--{f}" for f in MANAGED_FLAGS if f"--{f}" not in known_flags()) == []


def test_the_check_can_fail() -> None:
    # --disable-log-requests was removed before 0.33.0: the list must not contain it.
    assert "--disable-log-requests" not in known_flags()
    assert "--swap-space" not in known_flags()


def test_the_model_is_the_positional_tag() -> None:
    args = serve_args(EngineSpec(model="org/m"))
    assert args[0] == "org/m"
    assert args[args.index("--port") + 1] == "8000"


def test_extra_args_render_as_flags() -> None:
    args = serve_args(EngineSpec(model="org/m", extra_args={"enforce-eager": True, "kv-cache-dtype": "fp8"}))
    assert args[-3:] == ["--enforce-eager", "--kv-cache-dtype", "fp8"]
    assert all(f in known_flags() for f in flags_in(args))


@given(specs)
def test_pod_gpus_are_tensor_times_pipeline(spec: EngineSpec) -> None:
    assert spec.gpus == spec.tensor_parallel_size * spec.pipeline_parallel_size


def test_kv_cache_dtype_reaches_the_engine() -> None:
    """The capacity model sizes the KV cache by kvCacheDtype; vLLM must allocate the same one."""
    assert "--kv-cache-dtype" not in serve_args(EngineSpec(model="a/b"))
    args = serve_args(EngineSpec(model="a/b", kv_cache_dtype="fp8"))
    assert args[args.index("--kv-cache-dtype") + 1] == "fp8"
