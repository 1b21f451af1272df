"""Serving: vLLM models on Kubernetes.

`from llmops.components.serving import VllmModel, VllmModelArgs, EngineSpec`. The Pulumi-bound
classes load on first use, so pure users of `llmops.components.serving.vllm_args` (the
config validator, the capacity model) do not pay for importing the Pulumi SDKs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmops.components.serving.autoscaling import AutoscalingSpec, CronWindow
from llmops.components.serving.pod_security import WritablePath
from llmops.components.serving.vllm_args import DEFAULT_IMAGE, Dtype, EngineSpec, Quantization, serve_args

if TYPE_CHECKING:
    from llmops.components.serving.vllm_model import DemandForecast, VllmModel, VllmModelArgs

__all__ = [
    "DEFAULT_IMAGE",
    "AutoscalingSpec",
    "CronWindow",
    "DemandForecast",
    "Dtype",
    "EngineSpec",
    "Quantization",
    "VllmModel",
    "VllmModelArgs",
    "WritablePath",
    "serve_args",
]


def __getattr__(name: str) -> Any:
    if name in ("DemandForecast", "VllmModel", "VllmModelArgs"):
        from llmops.components.serving import vllm_model

        return getattr(vllm_model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
