"""Wall time of the offline plan (`llmops plan` without writing) for every shipped stack.

Writes build/bench/plan.json and prints one row per stack: resources and seconds, best of three
runs. Numbers only; `multicloud-prod` (three clouds, per-node addresses and firewall rules) is
the largest program.
"""

from __future__ import annotations

import json
import time

from llmops.infra.config import available_stacks, read_stack_file
from llmops.infra.plan import run_plan

from tests.conftest import REPO_ROOT

RUNS = 3


def main() -> None:
    out = REPO_ROOT / "build" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, dict[str, float | int]] = {}
    print(f"{'stack':<20}{'resources':>10}{'best s':>9}{'worst s':>9}")
    for stack in available_stacks(REPO_ROOT / "stacks"):
        times = []
        resources = 0
        for _ in range(RUNS):
            raw = read_stack_file(REPO_ROOT / "stacks", stack)
            start = time.perf_counter()
            plan = run_plan(raw, stack)
            times.append(time.perf_counter() - start)
            resources = len(plan.resources)
        report[stack] = {
            "resources": resources,
            "best_s": round(min(times), 3),
            "worst_s": round(max(times), 3),
        }
        print(f"{stack:<20}{resources:>10}{min(times):>9.2f}{max(times):>9.2f}")
    (out / "plan.json").write_text(json.dumps(report, indent=2) + "\n")
