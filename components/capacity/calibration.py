"""Published throughput and latency measurements against the model's prediction.

`data/calibration.csv` holds one row per public measurement: the setup (model, GPU, TP, precision,
token mix, concurrency or an offline maximum-throughput run, the engine), the metric and value
measured, and where and when it was published. `compare()` predicts each row with the model's
global constants — nothing here is fitted to a row — and reports the relative error.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import statistics
from dataclasses import dataclass
from importlib import resources

from llmops.components.capacity.capacity_report import at_concurrency
from llmops.components.capacity.throughput import TokenMix, replica_perf

# Per-step fixed cost by engine generation. vLLM >= 0.6 overlaps scheduling and output processing
# with the GPU (vLLM blog, "vLLM v0.6.0: 2.7x Throughput Improvement and 75% Latency Reduction",
# Sept 2024, which measured the CPU share of a step before and after); the 0.4-0.5 engine did not.
# TensorRT-LLM's C++ runtime has the smallest.
ENGINE_STEP_OVERHEAD_S = {"vllm": 1.5e-3, "vllm-0.4": 4.0e-3, "tensorrt-llm": 1.0e-3}
# Offline runs: TensorRT-LLM's benchmark gives the KV cache 90-95 % of the memory left after weights.
ENGINE_GPU_MEMORY_UTILIZATION = {"vllm": 0.90, "vllm-0.4": 0.90, "tensorrt-llm": 0.95}


@dataclass(frozen=True)
class Measurement:
    id: str
    model: str
    gpu: str
    tp: int
    dtype: str
    quantization: str | None
    kv_cache_dtype: str
    input_tokens: float
    output_tokens: float
    concurrency: int | None
    """Concurrent clients; None for an offline maximum-throughput run."""
    max_num_seqs: int
    engine: str
    metric: str
    """`output_tokens_per_s` or `itl_s`."""
    measured: float
    source: str
    date: str

    @property
    def precision_class(self) -> str:
        if self.quantization == "fp8":
            return "fp8"
        if self.quantization:
            return "int4"
        return "bf16/fp16"


def load_measurements(text: str | None = None) -> list[Measurement]:
    if text is None:
        text = (
            resources.files("llmops.components.capacity")
            .joinpath("data", "calibration.csv")
            .read_text("utf-8")
        )
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        rows.append(
            Measurement(
                id=row["id"],
                model=row["model"],
                gpu=row["gpu"],
                tp=int(row["tp"]),
                dtype=row["dtype"],
                quantization=row["quantization"] or None,
                kv_cache_dtype=row["kv_cache_dtype"],
                input_tokens=float(row["input_tokens"]),
                output_tokens=float(row["output_tokens"]),
                concurrency=int(row["concurrency"]) if row["concurrency"] else None,
                max_num_seqs=int(row["max_num_seqs"]),
                engine=row["engine"],
                metric=row["metric"],
                measured=float(row["measured"]),
                source=row["source"],
                date=row["date"],
            )
        )
    return rows


def predict(row: Measurement) -> float:
    perf = replica_perf(
        row.model,
        row.gpu,
        row.tp,
        max_model_len=int(row.input_tokens + row.output_tokens) + 16,
        dtype=row.dtype,
        quantization=row.quantization,
        kv_cache_dtype=row.kv_cache_dtype,
        gpu_memory_utilization=ENGINE_GPU_MEMORY_UTILIZATION[row.engine],
    )
    perf = dataclasses.replace(perf, step_overhead_s=ENGINE_STEP_OVERHEAD_S[row.engine])
    mix = TokenMix(row.input_tokens, row.output_tokens)
    if row.concurrency is None:
        mean_context = row.input_tokens + row.output_tokens / 2
        batch = max(1, min(row.max_num_seqs, int(perf.kv_cache_tokens // mean_context)))
        figures = {"output_tokens_per_s": batch / perf.mixed_step_s(batch, mix)}
    else:
        figures = at_concurrency(perf, mix, row.concurrency, row.max_num_seqs)
    return float(figures[row.metric])


@dataclass(frozen=True)
class Comparison:
    row: Measurement
    predicted: float

    @property
    def error(self) -> float:
        """Relative error of the prediction (positive: the model is optimistic for throughput,
        pessimistic for latency)."""
        return self.predicted / self.row.measured - 1


def compare(rows: list[Measurement] | None = None) -> list[Comparison]:
    return [Comparison(row, predict(row)) for row in (rows or load_measurements())]


def summary(comparisons: list[Comparison]) -> dict[str, object]:
    errors = [abs(c.error) for c in comparisons]
    return {
        "rows": len(comparisons),
        "median_abs_error": statistics.median(errors),
        "max_abs_error": max(errors),
        "worst": max(comparisons, key=lambda c: abs(c.error)).row.id,
        "precisions": sorted({c.row.precision_class for c in comparisons}),
    }
