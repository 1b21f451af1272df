"""What the pinned vLLM can run on which GPU: compute capability per GPU, and the minimum each
quantization method and dtype needs (pure Python).

Compute capabilities from NVIDIA's CUDA GPU list (developer.nvidia.com/cuda-gpus). Minimums from
vLLM's quantization configs (`get_min_capability()` of each method: AWQ 7.5, GPTQ 6.0, FP8 8.0
(weight-only Marlin below 8.9), bitsandbytes 7.0, compressed-tensors 7.0) and its dtype check
(bfloat16 needs 8.0). AWQ and GPTQ kernels take float16 activations only
(`get_supported_act_dtypes()`), so an explicit bfloat16/float32 dtype is refused with them.
"""

from __future__ import annotations

from llmops.components.serving.vllm_args import Dtype, Quantization

COMPUTE_CAPABILITY: dict[str, float] = {
    "V100": 7.0,
    "V100-32GB": 7.0,
    "T4": 7.5,
    "A100": 8.0,
    "A100-80GB": 8.0,
    "A10": 8.6,
    "A10G": 8.6,
    "L4": 8.9,
    "L40S": 8.9,
    "H100": 9.0,
    "H100-MEGA": 9.0,
    "H100-NVL": 9.0,
    "H200": 9.0,
    "B200": 10.0,
}

MIN_CAPABILITY: dict[Quantization, float] = {
    Quantization.AWQ: 7.5,
    Quantization.GPTQ: 6.0,
    Quantization.FP8: 8.0,
    Quantization.BITSANDBYTES: 7.0,
    Quantization.COMPRESSED_TENSORS: 7.0,
}
FLOAT16_ONLY = (Quantization.AWQ, Quantization.GPTQ)
BFLOAT16_MIN_CAPABILITY = 8.0


def support_problems(gpu: str, dtype: Dtype, quantization: Quantization | None) -> list[tuple[str, str, str]]:
    """(key, what is wrong, fix) where the GPU or dtype cannot run the model as configured."""
    capability = COMPUTE_CAPABILITY.get(gpu)
    problems: list[tuple[str, str, str]] = []
    if quantization is not None and quantization in FLOAT16_ONLY and dtype in (Dtype.BFLOAT16, Dtype.FLOAT32):
        problems.append(
            (
                "dtype",
                f"cannot be used with quantization {quantization.value!r}, whose kernels take float16 only",
                "set dtype: float16 (or auto)",
            )
        )
    if capability is None:
        return problems
    if quantization is not None and capability < MIN_CAPABILITY[quantization]:
        problems.append(
            (
                "quantization",
                f"needs compute capability {MIN_CAPABILITY[quantization]} or newer; {gpu} has {capability}",
                "use a checkpoint in another format, or a newer GPU",
            )
        )
    if dtype is Dtype.BFLOAT16 and capability < BFLOAT16_MIN_CAPABILITY:
        problems.append(
            (
                "dtype",
                f"needs compute capability {BFLOAT16_MIN_CAPABILITY} or newer; {gpu} has {capability}",
                "set dtype: float16",
            )
        )
    return problems
