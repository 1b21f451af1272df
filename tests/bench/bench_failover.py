"""A pool lost for 6 hours in the shared 14-day per-minute series, replayed as a stack deploys the model.

The stack's first autoscaled model that may run on two or more pools is replayed with its
ScaledObject, forecast rule, start-up time and pools (`llmops replay --stack S --lose-pool`), its
first (most preferred) pool lost for six hours. The series is scaled by the same rule as the
stack section of bench_replay (the static size at three quarters of maxReplicas), never per
outcome. Printed: the 6 hours of highest load after the first day (the worst case), every 6-hour
slot after the first day (the deployed policy), and, as a what-if that is not the stack, the
worst case again with every surviving pool able to hold maxReplicas. Target: SLO attainment of
feasible requests >= 99 %, over the replay and within the loss. Writes build/bench/failover.json.
Numbers only; nothing here asserts.
"""

from __future__ import annotations

import dataclasses
import json
import statistics

import numpy as np
from llmops.components.capacity.failover import PoolLoss, PoolLossResult, replay_pool_loss
from llmops.components.capacity.replay import replay
from llmops.components.capacity.traces import read_trace

from tests.bench.bench_replay import scaled
from tests.conftest import REPO_ROOT, _shared_root

STACK = "multicloud-prod"
"""The stack replayed: its autoscaled model runs on spot pools in two clouds."""
SERIES = "servegen-language-m-mid.minute.csv"
LOSS_S = 6 * 3600.0
TARGET = 0.99
POLICIES = ("static", "hpa", "predictive", "deployed", "oracle")
HEADROOM = 0.75
"""The series is scaled so the static size is this share of maxReplicas (as in bench_replay)."""


def _worst_window(load: np.ndarray, bin_s: float, skip_s: float) -> int:
    """First bin of the LOSS_S window with the most load, starting after `skip_s`."""
    width = round(LOSS_S / bin_s)
    sums = np.convolve(load, np.ones(width), "valid")
    first = round(skip_s / bin_s)
    return first + int(np.argmax(sums[first:]))


def _row(label: str, outcome: PoolLossResult) -> list[str]:
    lines = []
    for name, through in outcome.policies.items():
        normal = outcome.baseline.policies[name]
        lines.append(
            f"{label:<12}{name:<12}{normal.slo_attainment_feasible:>10.2%}{through.result.slo_attainment_feasible:>10.2%}"
            f"{through.window_attainment_feasible:>10.2%}{normal.gpu_hours:>10.1f}{through.result.gpu_hours:>12.1f}"
        )
    return lines


def main() -> None:
    folder = _shared_root() / "data" / "traces"
    if not (folder / SERIES).is_file():
        print(f"skipped: {folder / SERIES} is absent (a clone without ../shared)")
        return
    from llmops.infra.config import load_stack_file
    from llmops.infra.replay_stack import replay_settings, stack_model

    config = load_stack_file(REPO_ROOT / "stacks", STACK)
    found = next(
        (
            stack_model(config, m.name)
            for m in config.models
            if m.autoscaling is not None and len(stack_model(config, m.name).pools or ()) >= 2
        ),
        None,
    )
    if found is None or found.pools is None:
        print(f"skipped: {STACK} has no autoscaled model on two or more pools")
        return
    settings = replay_settings(found)
    assert settings.deployed is not None
    ceiling = settings.deployed.max_replicas
    trace = read_trace(folder / SERIES)
    static = replay(trace, settings, ("static",)).policies["static"].peak_replicas
    factor = min(1.0, HEADROOM * ceiling / max(static, 1))
    series = scaled(trace, factor)
    baseline = replay(series, settings, ("static",))
    needed = baseline.policies["static"].peak_replicas
    lost = found.pools[0]
    survivors = sum(p.replicas for p in found.pools[1:])
    bin_s = baseline.bin_s
    pools = ", ".join(f"{p.name} ({p.replicas} replicas)" for p in found.pools)
    pools += f", placement {found.model.placement}"
    print(
        f"{STACK}/{found.model.name}: {settings.model_id} on {settings.gpu}, start-up {settings.startup_s:.0f} s, "
        f"maxReplicas {ceiling}; pools {pools}; series {SERIES} x{factor:.3g} (static size {needed})"
    )
    header = f"{'loss':<12}{'policy':<12}{'normal':>10}{'overall':>10}{'in loss':>10}{'GPU-h':>10}{'GPU-h loss':>12}"
    print("SLO attainment of feasible requests, without the loss, through it (whole replay) and within it:")
    print(header)
    print("-" * len(header))

    start = _worst_window(baseline.load, bin_s, 86400.0)
    worst_loss = PoolLoss(lost.name, start * bin_s, LOSS_S)
    worst = replay_pool_loss(series, settings, found.pools, [worst_loss], POLICIES)
    for line in _row("worst 6 h", worst):
        print(line)

    slots = []
    at = 86400.0
    while at + LOSS_S <= series.span_s:
        outcome = replay_pool_loss(
            series, settings, found.pools, [PoolLoss(lost.name, at, LOSS_S)], ("deployed",)
        )
        deployed = outcome.policies["deployed"]
        slots.append(
            {
                "at_h": at / 3600,
                "overall": deployed.result.slo_attainment_feasible,
                "in_loss": deployed.window_attainment_feasible,
            }
        )
        at += LOSS_S
    in_loss = [s["in_loss"] for s in slots]
    overall = [s["overall"] for s in slots]
    meeting = sum(1 for s in slots if s["in_loss"] >= TARGET and s["overall"] >= TARGET)
    print(
        f"every 6-hour slot after day 1 ({len(slots)} losses), deployed: in loss min {min(in_loss):.2%}, "
        f"median {statistics.median(in_loss):.2%}; overall min {min(overall):.2%}, median "
        f"{statistics.median(overall):.2%}; {meeting} of {len(slots)} meet {TARGET:.0%} in the loss and overall"
    )

    roomy = (lost, *(dataclasses.replace(p, replicas=max(p.replicas, ceiling)) for p in found.pools[1:]))
    what_if = replay_pool_loss(series, settings, roomy, [worst_loss], ("deployed",))
    for line in _row("what-if", what_if):
        print(line + f"   (survivors hold {ceiling} replicas: not the stack)")

    deployed = worst.policies["deployed"]
    verdicts = []
    for label, value in (
        ("overall", deployed.result.slo_attainment_feasible),
        ("in loss", deployed.window_attainment_feasible),
    ):
        gap = TARGET - value
        verdicts.append(
            f"{label} {value:.2%} ({'meets' if gap <= 0 else f'misses by {gap * 100:.2f} points'} {TARGET:.0%})"
        )
    print(f"verdict, deployed policy, worst 6 h: {'; '.join(verdicts)}")
    if survivors < needed:
        print(
            f"why: with {lost.name} gone the surviving pools hold {survivors} replicas, and the load needs "
            f"{needed} at its peak, so the queue grows for as long as demand exceeds {survivors} replicas. "
            f"Raise the fallback pools' max to hold {needed} (maxReplicas: {ceiling}) to meet it (the what-if row)"
        )
    else:
        print(
            f"why: the survivors hold {survivors} replicas >= the {needed} the peak needs; what is lost is the "
            f"start-up gap (replacement after {worst.replace_after_s:g} s plus {settings.startup_s:.0f} s start-up) "
            "and the backlog it leaves"
        )

    out = REPO_ROOT / "build" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    report = {
        "stack": STACK,
        "model": found.model.name,
        "rate_factor": factor,
        "static_size": needed,
        "surviving_replicas": survivors,
        "worst": worst.to_json()["pool_loss"],
        "slots": slots,
        "what_if": what_if.to_json()["pool_loss"],
    }
    (out / "failover.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out / 'failover.json'}")


if __name__ == "__main__":
    main()
