"""Start-up time per model with and without the model store and the image pre-pull.

Writes build/bench/start_up_estimate.json and prints a table: the shipped stacks' models and a
70B model, time-to-ready from the hub onto a fresh node versus from the store (EFS Elastic)
with the image already on the node, and how much faster that is. Numbers only.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from llmops.components.capacity import startup
from llmops.components.capacity.startup import WeightSource, model_estimate

from tests.conftest import REPO_ROOT

SEVENTY_B = "meta-llama/Llama-3.1-70B-Instruct"


def _stack_models() -> list[str]:
    models: list[str] = []
    for stack in sorted((REPO_ROOT / "stacks").glob("Pulumi.*.yaml")):
        config = yaml.safe_load(stack.read_text()).get("config", {})
        models += [m["source"] for m in config.get("llmops:models", [])]
    return list(dict.fromkeys(models))


def main() -> None:
    out = REPO_ROOT / "build" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    cases = {
        "hub, cold node": (WeightSource.HUB, False),
        "hub, pre-pulled": (WeightSource.HUB, True),
        "store, cold node": (WeightSource.EFS_ELASTIC, False),
        "store, pre-pulled": (WeightSource.EFS_ELASTIC, True),
        "bursting, pre-pulled": (WeightSource.EFS_BURSTING, True),
    }
    report: dict[str, object] = {
        "inputs": {
            "image_gb": startup.IMAGE_GB,
            "image_pull_bytes_per_s": startup.IMAGE_PULL_BPS,
            "hub_download_bytes_per_s": startup.HUB_DOWNLOAD_BPS,
            "local_load_bytes_per_s": startup.LOCAL_LOAD_BPS,
            "efs_elastic_client_bytes_per_s": startup.EFS_ELASTIC_CLIENT_BPS,
            "efs_bursting_bytes_per_s": startup.EFS_BURSTING_BPS,
            "engine_start_s": startup.ENGINE_START_S,
            "sources": "docs/capacity.md, section 'Start-up time'",
        },
        "models": {},
    }
    header = f"{'model':<36}{'GB':>7}" + "".join(f"{name:>22}" for name in cases) + f"{'faster':>9}"
    print(header)
    print("-" * len(header))
    for model in [*_stack_models(), SEVENTY_B]:
        rows = {name: model_estimate(model, source=s, pre_pulled=p) for name, (s, p) in cases.items()}
        before, after = rows["hub, cold node"].total_s, rows["store, pre-pulled"].total_s
        faster = 1 - after / before
        report["models"][model] = {  # type: ignore[index]
            **{name: e.to_json() for name, e in rows.items()},
            "ratio_store_pre_pulled_to_hub_cold": round(after / before, 3),
            "faster_pct": round(100 * faster, 1),
        }
        print(
            f"{model:<36}{rows['hub, cold node'].weights_gb:>7.1f}"
            + "".join(f"{e.total_s:>21.0f}s" for e in rows.values())
            + f"{100 * faster:>8.0f}%"
        )
    path = Path(out / "start_up_estimate.json")
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path.relative_to(REPO_ROOT)}")
