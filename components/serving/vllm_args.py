"""The `vllm serve` command line, generated from a typed engine spec.

Pure Python (no Pulumi): the stack config validator imports it too. Every flag
emitted here must exist in the pinned vLLM release; a test checks them against the
release's option list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from llmops.components.serving.secret_flags import is_secret_option, secret_option_fix

VLLM_VERSION = "0.33.0"
DEFAULT_IMAGE = f"vllm/vllm-openai:v{VLLM_VERSION}"
PORT = 8000
# Object names add suffixes such as "-progress-probe" to the model name; 40 keeps them within 63.
MAX_MODEL_NAME = 40


class Dtype(StrEnum):
    AUTO = "auto"
    BFLOAT16 = "bfloat16"
    FLOAT16 = "float16"
    FLOAT32 = "float32"


class Quantization(StrEnum):
    AWQ = "awq"
    GPTQ = "gptq"
    FP8 = "fp8"
    BITSANDBYTES = "bitsandbytes"
    COMPRESSED_TENSORS = "compressed-tensors"


# Flags llmops sets itself, mapped to the stack-config key that controls each one
# (None: fixed by llmops because probes, the Service or the cache mount depend on it).
MANAGED_FLAGS: Mapping[str, str | None] = {
    "model": "source",
    "served-model-name": "servedModelName",
    "revision": "revision",
    "tensor-parallel-size": "tensorParallelSize",
    "pipeline-parallel-size": "pipelineParallelSize",
    "max-model-len": "maxModelLen",
    "dtype": "dtype",
    "quantization": "quantization",
    "kv-cache-dtype": "kvCacheDtype",
    "gpu-memory-utilization": "gpuMemoryUtilization",
    "enable-prefix-caching": "enablePrefixCaching",
    "no-enable-prefix-caching": "enablePrefixCaching",
    "max-num-seqs": "maxNumSeqs",
    "host": None,
    "port": None,
    "download-dir": None,
    "disable-uvicorn-access-log": None,
}


@dataclass(frozen=True)
class EngineSpec:
    """What vLLM serves and how; each field maps to one `vllm serve` option."""

    model: str
    """Hugging Face repo id or a path inside the model volume."""
    revision: str | None = None
    """Git revision of the repo; default: its main branch."""
    served_model_name: str | None = None
    """Name clients send in requests; default: the model id."""
    tensor_parallel_size: int = 1
    """GPUs one copy of the model is split across (one node)."""
    pipeline_parallel_size: int = 1
    """Pipeline stages; the pod asks for tensor x pipeline GPUs."""
    max_model_len: int | None = None
    """Context length; default: the model's own, which may not fit the KV cache."""
    dtype: Dtype = Dtype.AUTO
    """Weights/activations dtype; default: the model's own (bf16 for current models)."""
    quantization: Quantization | None = None
    """Quantization method of the checkpoint; default: none."""
    kv_cache_dtype: str = "auto"
    """KV-cache element type (`auto` = the model's dtype, or `fp8`...); the capacity model sizes the
    cache with the same value."""
    gpu_memory_utilization: float = 0.90
    """Share of GPU memory vLLM may use for weights + KV cache; default leaves 10% headroom."""
    enable_prefix_caching: bool = True
    """Reuse KV cache across requests sharing a prefix; default: on (cheap, big win for chat)."""
    max_num_seqs: int | None = None
    """Upper bound on concurrently running sequences; default: vLLM's own."""
    extra_args: Mapping[str, str | int | float | bool] = field(default_factory=dict)
    """Further `vllm serve` options, without leading dashes; True emits a bare flag."""

    @property
    def gpus(self) -> int:
        return self.tensor_parallel_size * self.pipeline_parallel_size


def serve_args(spec: EngineSpec, *, port: int = PORT, download_dir: str | None = None) -> list[str]:
    """Arguments after `vllm serve`: the model tag, then options in a stable order."""
    args = [spec.model, "--host", "0.0.0.0", "--port", str(port)]
    if spec.served_model_name:
        args += ["--served-model-name", spec.served_model_name]
    if spec.revision:
        args += ["--revision", spec.revision]
    if download_dir:
        args += ["--download-dir", download_dir]
    if spec.tensor_parallel_size > 1:
        args += ["--tensor-parallel-size", str(spec.tensor_parallel_size)]
    if spec.pipeline_parallel_size > 1:
        args += ["--pipeline-parallel-size", str(spec.pipeline_parallel_size)]
    if spec.max_model_len is not None:
        args += ["--max-model-len", str(spec.max_model_len)]
    if spec.dtype is not Dtype.AUTO:
        args += ["--dtype", spec.dtype.value]
    if spec.quantization is not None:
        args += ["--quantization", spec.quantization.value]
    if spec.kv_cache_dtype != "auto":
        args += ["--kv-cache-dtype", spec.kv_cache_dtype]
    args += ["--gpu-memory-utilization", f"{spec.gpu_memory_utilization:g}"]
    args += ["--enable-prefix-caching" if spec.enable_prefix_caching else "--no-enable-prefix-caching"]
    if spec.max_num_seqs is not None:
        args += ["--max-num-seqs", str(spec.max_num_seqs)]
    # Probes hit /health every second; access logs would be mostly probe lines.
    args += ["--disable-uvicorn-access-log"]
    for name, value in sorted(spec.extra_args.items()):
        if value is True:
            args.append(f"--{name}")
        elif value is False:
            args.append(f"--no-{name}")
        else:
            args += [f"--{name}", str(value)]
    return args


def spec_problems(spec: EngineSpec) -> list[tuple[str, object, str, str]]:
    """(field, value, what is wrong, fix) for each invalid field; empty when the spec is fine."""
    problems: list[tuple[str, object, str, str]] = []
    if not spec.model:
        problems.append(("model", spec.model, "is empty", "name a Hugging Face repo id or a model path"))
    for name in ("tensor_parallel_size", "pipeline_parallel_size"):
        value = getattr(spec, name)
        if value < 1:
            problems.append((name, value, "must be >= 1", f"set {name} to 1 or more"))
    if not 0.1 < spec.gpu_memory_utilization <= 0.98:
        problems.append(
            (
                "gpu_memory_utilization",
                spec.gpu_memory_utilization,
                "must be in (0.1, 0.98]",
                "use 0.90 unless another process shares the GPU",
            )
        )
    if spec.max_model_len is not None and spec.max_model_len < 128:
        problems.append(
            ("max_model_len", spec.max_model_len, "must be >= 128", "raise it, or leave it unset")
        )
    for flag in spec.extra_args:
        if is_secret_option(flag, spec.extra_args[flag]):
            problems.append(
                (f"extra_args[{flag!r}]", "[not shown]", "carries a secret", secret_option_fix(flag))
            )
        elif flag in MANAGED_FLAGS:
            problems.append(
                (
                    f"extra_args[{flag!r}]",
                    spec.extra_args[flag],
                    "is set by llmops",
                    "use the matching field instead",
                )
            )
        elif flag.startswith("-") or "_" in flag:
            problems.append(
                (
                    f"extra_args[{flag!r}]",
                    spec.extra_args[flag],
                    "is not an option name",
                    f"write it as {flag.lstrip('-').replace('_', '-')!r}",
                )
            )
    return problems
