"""What a weights dtype, a weight quantization and a KV-cache dtype mean in bytes and tensor peaks.

vLLM serves the catalog's dense models (Llama, Qwen2, Mistral) with these weight formats:
bf16/fp16/fp32 (`--dtype`), `fp8` (W8A8 on GPUs with FP8 tensor cores, compute capability 8.9+;
weight-only W8A16 through the FP8 Marlin kernel on 8.0-8.6), AWQ and GPTQ 4-bit (W4A16, group
size 128; AWQ needs 7.5+, GPTQ 6.0+; the Marlin kernels on 8.0+) and bitsandbytes 4-bit NF4
(W4A16, block size 64). Quantized checkpoints keep the token embeddings and the output head in
the checkpoint's own dtype (16-bit), which is why an FP8 or AWQ checkpoint is larger than
parameters x bits. `compressed-tensors` names a container format, not a precision: the scheme is
in the checkpoint's config, so the capacity model asks for the method it holds instead.
The KV cache is the activation dtype (`auto`) or FP8 (`fp8`, `fp8_e4m3`, `fp8_e5m2`).
Sources: vLLM's quantization support matrix (docs.vllm.ai, "Supported Hardware" of the
quantization section) and each method's `get_min_capability`; NVIDIA datasheets for the peaks.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmops.components.capacity.catalog import CatalogError, GpuSpec

DTYPES = ("auto", "bfloat16", "float16", "float32")
QUANTIZATIONS = ("fp8", "awq", "awq_marlin", "gptq", "gptq_marlin", "bitsandbytes")
KV_CACHE_DTYPES = ("auto", "bfloat16", "float16", "fp8", "fp8_e4m3", "fp8_e5m2")

# Bits per weight of the quantized (linear-layer) parameters: 4-bit values plus one 16-bit scale and
# one 4-bit zero point per group of 128 (AWQ, GPTQ), or one 32-bit absmax per 64 weights before
# bitsandbytes' double quantisation (about 0.127 bits per weight after it).
_INT4_GROUP_BITS = 4 + (16 + 4) / 128
_NF4_BITS = 4 + 0.127
_QUANTIZED_BITS = {
    "fp8": 8.0,
    "awq": _INT4_GROUP_BITS,
    "awq_marlin": _INT4_GROUP_BITS,
    "gptq": _INT4_GROUP_BITS,
    "gptq_marlin": _INT4_GROUP_BITS,
    "bitsandbytes": _NF4_BITS,
}
# Lowest compute capability each method runs on in vLLM.
_MIN_CAPABILITY = {
    "fp8": 8.0,
    "awq": 7.5,
    "awq_marlin": 8.0,
    "gptq": 6.0,
    "gptq_marlin": 8.0,
    "bitsandbytes": 7.0,
}
FP8_TENSOR_CAPABILITY = 8.9


@dataclass(frozen=True)
class Precision:
    """How one replica stores and computes: bytes per weight and per KV element, and its tensor peak."""

    label: str
    """Short human name: `bf16`, `FP8 W8A8`, `FP8 W8A16`, `AWQ W4A16`, ..."""
    linear_bits: float
    """Bits per parameter of the transformer blocks' linear layers (what quantization compresses)."""
    embedding_bytes: float
    """Bytes per parameter of the token embeddings and output head (the checkpoint's dtype)."""
    compute: str
    """Tensor-core path the matrix multiplies run on: `fp16`, `fp8` or `fp32`."""
    kv_bytes: float
    """Bytes per KV-cache element."""
    weight_only: bool
    """True for W4A16/W8A16: weights are dequantised to 16 bits inside the kernel."""

    def peak_tflops(self, gpu: GpuSpec) -> float:
        if self.compute == "fp8" and gpu.fp8_dense_tflops:
            return gpu.fp8_dense_tflops
        if self.compute == "fp32":
            return gpu.fp32_tflops
        return gpu.fp16_dense_tflops


def resolve_precision(
    gpu: GpuSpec,
    *,
    dtype: str | None = None,
    quantization: str | None = None,
    kv_cache_dtype: str | None = None,
) -> Precision:
    """The precision vLLM runs with on `gpu`; CatalogError (naming the value and the fix) where it
    refuses the combination."""
    dtype = dtype or "auto"
    kv_cache_dtype = kv_cache_dtype or "auto"
    if dtype not in DTYPES:
        raise CatalogError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    if kv_cache_dtype not in KV_CACHE_DTYPES:
        raise CatalogError(f"kv_cache_dtype {kv_cache_dtype!r} is not one of {', '.join(KV_CACHE_DTYPES)}")
    if quantization == "compressed-tensors":
        raise CatalogError(
            "quantization 'compressed-tensors' keeps its scheme in the checkpoint's config; the capacity "
            "model needs the scheme: use fp8 for W8A8-FP8 checkpoints or gptq for W4A16 ones"
        )
    if quantization is not None and quantization not in QUANTIZATIONS:
        raise CatalogError(f"quantization {quantization!r} is not one of {', '.join(QUANTIZATIONS)}")
    if quantization is not None and dtype == "float32":
        raise CatalogError(
            f"quantization {quantization!r} runs its activations in 16 bits; "
            "drop dtype float32 or the quantization"
        )
    element = 4.0 if dtype == "float32" else 2.0
    kv_bytes = 1.0 if kv_cache_dtype.startswith("fp8") else element
    if kv_cache_dtype.startswith("fp8") and gpu.compute_capability < 8.0:
        raise CatalogError(
            f"kv_cache_dtype {kv_cache_dtype!r} needs compute capability 8.0 or higher; {gpu.name} has "
            f"{gpu.compute_capability:g}. Fix: use kv_cache_dtype auto"
        )
    if kv_cache_dtype.startswith("fp8") and dtype == "float32":
        raise CatalogError(f"kv_cache_dtype {kv_cache_dtype!r} needs 16-bit activations, not dtype float32")
    if quantization is None:
        compute = "fp32" if dtype == "float32" else "fp16"
        # Before compute capability 8.0 vLLM casts bfloat16 to float16: same bytes, same peak.
        label = {"float32": "fp32", "float16": "fp16"}.get(dtype, "bf16")
        return Precision(label, element * 8, element, compute, kv_bytes, weight_only=False)
    needed = _MIN_CAPABILITY[quantization]
    if gpu.compute_capability < needed:
        raise CatalogError(
            f"quantization {quantization!r} needs compute capability {needed:g} or higher in vLLM; "
            f"{gpu.name} has {gpu.compute_capability:g}. Fix: use a 16-bit checkpoint or "
            + ("gptq" if quantization != "gptq" and gpu.compute_capability >= 6.0 else "another GPU")
        )
    bits = _QUANTIZED_BITS[quantization]
    if quantization == "fp8":
        if gpu.fp8_dense_tflops and gpu.compute_capability >= FP8_TENSOR_CAPABILITY:
            return Precision("FP8 W8A8", bits, 2.0, "fp8", kv_bytes, weight_only=False)
        return Precision("FP8 W8A16", bits, 2.0, "fp16", kv_bytes, weight_only=True)
    name = {"bitsandbytes": "NF4"}.get(quantization, quantization.split("_")[0].upper())
    return Precision(f"{name} W4A16", bits, 2.0, "fp16", kv_bytes, weight_only=True)
