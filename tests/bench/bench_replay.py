"""Replay the shared traces with an 8B model on L4 and H100 under every policy.

Prints per trace and GPU: each policy's GPU-hours, cost, SLO attainment over all requests and over
the feasible ones (the infeasible share is printed with the trace), peak replicas and ratios to the
oracle and static; then the HPA's target swept from 0.5 to 0.9 of the working batch and its
GPU-hours interpolated at the predictive policy's feasible attainment; and the verdicts on the
targets: predictive <= 1.15 x oracle GPU-hours at >= 99 % feasible attainment, predictive <= hpa at
equal attainment, and on the multi-day series <= 0.85 x hpa. Then each shipped stack's autoscaled
model replayed as deployed (`llmops replay --stack S --model NAME`: its ScaledObject, forecast rule
and bounds) on each trace, scaled so the static size fits the model's maxReplicas. Writes
build/bench/replay.json and one PNG per trace and GPU. Numbers only; nothing here asserts.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
from llmops.components.capacity.replay import ReplayResult, ReplaySettings, plot, policy_parameters, replay
from llmops.components.capacity.traces import Trace, read_trace

from tests.conftest import REPO_ROOT, _shared_root

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
GPUS = ("L4", "H100")
TRACES = {
    "azure-conv": "AzureLLMInferenceTrace_conv.csv",
    "azure-code": "AzureLLMInferenceTrace_code.csv",
    "servegen-14d": "servegen-language-m-mid.minute.csv",
}
MULTI_DAY = {"servegen-14d"}
HPA_TARGETS = (0.5, 0.6, 0.7, 0.8, 0.9)
STACK_POLICIES = ("static", "hpa", "predictive", "deployed", "oracle")


def hpa_sweep(trace: Trace, settings: ReplaySettings) -> list[dict[str, float]]:
    points = []
    for fraction in HPA_TARGETS:
        swept = dataclasses.replace(settings, hpa=dataclasses.replace(settings.hpa, target_fraction=fraction))
        policy = replay(trace, swept, ("hpa",)).policies["hpa"]
        points.append(
            {
                "target_fraction": fraction,
                "gpu_hours": policy.gpu_hours,
                "slo_attainment": policy.slo_attainment,
                "slo_attainment_feasible": policy.slo_attainment_feasible,
            }
        )
    return points


def hpa_at(points: list[dict[str, float]], attainment: float) -> float | None:
    """The HPA's GPU-hours at this feasible attainment, interpolated along the sweep; None outside it."""
    ordered = sorted(points, key=lambda p: p["slo_attainment_feasible"])
    xs = np.array([p["slo_attainment_feasible"] for p in ordered])
    ys = np.array([p["gpu_hours"] for p in ordered])
    if attainment < xs[0] - 1e-9 or attainment > xs[-1] + 1e-9:
        return None
    return float(np.interp(attainment, xs, ys))


def print_policies(label: str, gpu: str, result: ReplayResult) -> None:
    oracle = result.policies["oracle"].gpu_hours
    static = result.policies["static"].gpu_hours
    for name, policy in result.policies.items():
        shown = f"{name} (naive)" if name == "keda-waiting" else name
        print(
            f"{label:<14}{gpu:<6}{shown:<22}{policy.gpu_hours:>10.2f}{policy.cost_usd:>10.2f}"
            f"{policy.slo_attainment:>9.2%}{policy.slo_attainment_feasible:>10.2%}{policy.peak_replicas:>6d}"
            f"{policy.gpu_hours / oracle:>9.2f}{policy.gpu_hours / static:>9.2f}"
        )


def main() -> None:
    folder = _shared_root() / "data" / "traces"
    if not folder.is_dir():
        print(f"skipped: {folder} is absent (a clone without ../shared)")
        return
    out = REPO_ROOT / "build" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, object] = {}
    print("policy parameters (sources: components/capacity/autoscalers.py, docs/capacity.md):")
    for name, values in policy_parameters(ReplaySettings(MODEL, GPUS[0])).items():
        print(f"  {name}: " + ", ".join(f"{key}={value}" for key, value in values.items()))
    header = (
        f"{'trace':<14}{'gpu':<6}{'policy':<22}{'GPU-h':>10}{'cost $':>10}{'SLO all':>9}{'feasible':>10}"
        f"{'peak':>6}{'/oracle':>9}{'/static':>9}"
    )
    print(header)
    print("-" * len(header))
    summary: list[str] = []
    sweeps: list[str] = []
    for label, name in TRACES.items():
        started = time.perf_counter()
        trace = read_trace(folder / name)
        parse_s = time.perf_counter() - started
        for gpu in GPUS:
            settings = ReplaySettings(MODEL, gpu)
            started = time.perf_counter()
            result = replay(trace, settings)
            replay_s = time.perf_counter() - started
            print_policies(label, gpu, result)
            print(f"{'':<20}infeasible (prefill alone over the TTFT SLO): {result.infeasible_share:.2%}")
            points = hpa_sweep(trace, settings)
            key = f"{label}/{gpu}"
            data = result.to_json()
            data["timing_s"] = {"parse": round(parse_s, 3), "replay": round(replay_s, 3)}
            data["hpa_sweep"] = [{k: round(v, 6) for k, v in point.items()} for point in points]
            predictive = result.policies["predictive"]
            oracle = result.policies["oracle"]
            equal = hpa_at(points, predictive.slo_attainment_feasible)
            data["hpa_at_predictive_attainment_gpu_hours"] = None if equal is None else round(equal, 4)
            report[key] = data
            sweeps.append(
                f"{key}: hpa target "
                + ", ".join(
                    f"{p['target_fraction']:.1f} -> {p['gpu_hours']:.2f} GPU-h @ {p['slo_attainment_feasible']:.2%}"
                    for p in points
                )
            )
            within = (
                predictive.gpu_hours <= 1.15 * oracle.gpu_hours and predictive.slo_attainment_feasible >= 0.99
            )
            if equal is None:
                versus = "hpa's sweep does not reach that attainment"
            else:
                limit = 0.85 if label in MULTI_DAY else 1.0
                verdict = "meets" if predictive.gpu_hours <= limit * equal else "misses"
                versus = (
                    f"{predictive.gpu_hours / equal:.2f}x hpa at equal attainment ({verdict} {limit:.2f}x)"
                )
            summary.append(
                f"{key}: predictive {predictive.gpu_hours / oracle.gpu_hours:.2f}x oracle at "
                f"{predictive.slo_attainment_feasible:.2%} feasible ({'meets' if within else 'misses'} 1.15x @ 99%); "
                f"{versus}; replay {replay_s:.1f} s"
            )
            plot(result, str(out / f"replay-{label}-{gpu}.png"))
            if label in MULTI_DAY:
                # The gap to the oracle, one day up close: where the forecast's headroom goes.
                plot(
                    result,
                    str(out / f"replay-{label}-{gpu}-day2.png"),
                    window_h=(24, 48),
                    policies=("hpa", "predictive", "oracle"),
                )
    report["stacks"] = stack_models(folder, header)
    (out / "replay.json").write_text(json.dumps(report, indent=2) + "\n")
    print()
    print("\n".join(sweeps))
    print()
    print("\n".join(summary))
    print(f"wrote {out / 'replay.json'} and {len(TRACES) * len(GPUS)} PNGs")


def scaled(trace: Trace, factor: float) -> Trace:
    """The trace with its request rate times `factor` (aggregates: every count; request traces:
    arrivals compressed in time, so the token mix stays)."""
    if trace.arrival_s is None:
        assert trace.requests is not None
        return dataclasses.replace(
            trace,
            requests=trace.requests * factor,
            input_tokens=trace.input_tokens * factor,
            output_tokens=trace.output_tokens * factor,
        )
    return dataclasses.replace(trace, arrival_s=trace.arrival_s / factor)


def stack_models(folder: Path, header: str) -> dict[str, object]:
    """Every autoscaled model of every shipped stack, replayed as its stack deploys it."""
    from llmops.infra.config import available_stacks, load_stack_file
    from llmops.infra.replay_stack import replay_settings, stack_model

    stacks = REPO_ROOT / "stacks"
    out: dict[str, object] = {}
    print()
    print("shipped stacks' autoscaled models as deployed (trace scaled so the static size fits maxReplicas):")
    print(header)
    print("-" * len(header))
    for stack in available_stacks(stacks):
        config = load_stack_file(stacks, stack)
        for model in config.models:
            if model.autoscaling is None:
                continue
            settings = replay_settings(stack_model(config, model.name))
            assert settings.deployed is not None
            for label, name in TRACES.items():
                trace = read_trace(folder / name)
                static = replay(trace, settings, ("static",)).policies["static"].peak_replicas
                # Leave the autoscaler a quarter of headroom under its ceiling.
                factor = min(1.0, 0.75 * settings.deployed.max_replicas / max(static, 1))
                result = replay(scaled(trace, factor), settings, STACK_POLICIES)
                print(f"{stack}/{model.name} on {label}, request rate x{factor:.3g}:")
                print_policies(label, settings.gpu, result)
                data = result.to_json()
                data["rate_factor"] = factor
                out[f"{stack}/{model.name}/{label}"] = data
    return out


if __name__ == "__main__":
    main()
