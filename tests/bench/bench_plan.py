"""Wall time of `llmops plan --stack NAME` for every shipped stack, as a user runs it.

Each stack is planned in a fresh process (interpreter start, imports, the Pulumi mock engine,
policies, cost and the written artefacts), three times; the table prints the fastest and the
median run and the resource count. The multi-cloud stack's target is under 10 s on 2 cores.
Writes build/bench/plan.json. Numbers only: nothing here asserts on time.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import REPO_ROOT

RUNS = 3
TARGET_S = {"multicloud-prod": 10.0}
"""Stacks with a wall-time target (seconds, on 2 cores)."""


def _stacks() -> list[str]:
    return sorted(
        p.name.removeprefix("Pulumi.").removesuffix(".yaml")
        for p in (REPO_ROOT / "stacks").glob("Pulumi.*.yaml")
    )


def _plan_once(stack: str, out: Path) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from llmops.infra.cli import main; sys.exit(main())",
            "plan",
            "--stack",
            stack,
            "--out",
            str(out),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"llmops plan --stack {stack} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    plan = json.loads((out / stack / "plan.json").read_text())
    return wall, len(plan.get("resources", []))


def main() -> None:
    out_dir = REPO_ROOT / "build" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    print(f"{'stack':<18} {'resources':>9} {'fastest s':>10} {'median s':>9} {'target s':>9}")
    for stack in _stacks():
        with tempfile.TemporaryDirectory() as tmp:
            runs = [_plan_once(stack, Path(tmp)) for _ in range(RUNS)]
        walls = [wall for wall, _ in runs]
        target = TARGET_S.get(stack)
        row = {
            "stack": stack,
            "resources": runs[0][1],
            "fastest_s": round(min(walls), 2),
            "median_s": round(statistics.median(walls), 2),
            "target_s": target,
            "cores": os.cpu_count(),
        }
        rows.append(row)
        shown = f"{target:.1f}" if target is not None else "-"
        print(f"{stack:<18} {runs[0][1]:>9} {min(walls):>10.2f} {statistics.median(walls):>9.2f} {shown:>9}")
    (out_dir / "plan.json").write_text(json.dumps({"runs_per_stack": RUNS, "stacks": rows}, indent=2) + "\n")
