"""Replay the shared traces with an 8B model on L4 and H100 under all four policies.

Writes build/bench/replay.json and one PNG per trace and GPU, and prints a table with the
targets: predictive within 1.15x of oracle GPU-hours at >= 99 % SLO attainment, and at most
0.6x of static. Numbers only; nothing here asserts.
"""

from __future__ import annotations

import json
import time

from components.capacity.replay import ReplaySettings, plot, replay
from components.capacity.traces import read_trace
from tests.conftest import REPO_ROOT, _shared_root

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
GPUS = ("L4", "H100")
TRACES = {
    "azure-conv": "AzureLLMInferenceTrace_conv.csv",
    "azure-code": "AzureLLMInferenceTrace_code.csv",
    "servegen-14d": "servegen-language-m-mid.minute.csv",
}


def main() -> None:
    folder = _shared_root() / "data" / "traces"
    if not folder.is_dir():
        print(f"skipped: {folder} is absent (a clone without ../shared)")
        return
    out = REPO_ROOT / "build" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, object] = {}
    header = (
        f"{'trace':<24}{'gpu':<6}{'policy':<12}{'GPU-h':>12}{'cost $':>12}{'SLO':>9}{'peak':>7}"
        f"{'/oracle':>9}{'/static':>9}"
    )
    print(header)
    print("-" * len(header))
    summary: list[str] = []
    for label, name in TRACES.items():
        started = time.perf_counter()
        trace = read_trace(folder / name)
        parse_s = time.perf_counter() - started
        for gpu in GPUS:
            started = time.perf_counter()
            result = replay(trace, ReplaySettings(MODEL, gpu))
            replay_s = time.perf_counter() - started
            key = f"{label}/{gpu}"
            data = result.to_json()
            data["timing_s"] = {"parse": round(parse_s, 3), "replay": round(replay_s, 3)}
            report[key] = data
            oracle = result.policies["oracle"].gpu_hours
            static = result.policies["static"].gpu_hours
            for policy_name, policy in result.policies.items():
                print(
                    f"{label:<24}{gpu:<6}{policy_name:<12}{policy.gpu_hours:>12.2f}"
                    f"{policy.cost_usd:>12.2f}{policy.slo_attainment:>8.2%}{policy.peak_replicas:>7d}"
                    f"{policy.gpu_hours / oracle:>9.2f}{policy.gpu_hours / static:>9.2f}"
                )
            predictive = result.policies["predictive"]
            within_oracle = predictive.gpu_hours <= 1.15 * oracle and predictive.slo_attainment >= 0.99
            under_static = predictive.gpu_hours <= 0.6 * static
            oracle_verdict = "meets" if within_oracle else "misses"
            static_verdict = "meets" if under_static else "misses"
            summary.append(
                f"{key}: predictive {predictive.gpu_hours / oracle:.2f}x oracle at "
                f"{predictive.slo_attainment:.2%} SLO ({oracle_verdict} 1.15x @ 99%), "
                f"{predictive.gpu_hours / static:.2f}x static ({static_verdict} 0.6x); "
                f"parse {parse_s:.2f} s, replay {replay_s:.2f} s"
            )
            plot(result, str(out / f"replay-{label}-{gpu}.png"))
    (out / "replay.json").write_text(json.dumps(report, indent=2) + "\n")
    print()
    print("\n".join(summary))
    print(f"wrote {out / 'replay.json'} and {len(TRACES) * len(GPUS)} PNGs")


if __name__ == "__main__":
    main()
