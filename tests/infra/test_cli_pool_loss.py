"""`llmops replay --stack S --lose-pool NAME@T[+D]`: the loss table, its JSON, and bad flags."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import typer
from llmops.infra import cli_capacity

from tests.infra.test_cli_capacity import run

STACK = ("--stack", "aws-dev", "--model", "qwen2-5-0-5b")


@pytest.fixture
def app() -> typer.Typer:
    application = typer.Typer()
    application.command("version")(lambda: None)  # a second command keeps `replay` a subcommand
    cli_capacity.register(application)
    return application


def day_trace(tmp_path: Path) -> Path:
    rows = ["minute,requests,request_tokens,response_tokens"]
    for minute in range(24 * 60):
        requests = 600 + 300 * math.sin(minute / 1440 * 2 * math.pi)
        rows.append(f"{minute},{requests:.1f},{requests * 500:.0f},{requests * 150:.0f}")
    path = tmp_path / "day.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_a_pool_loss_is_reported_next_to_the_usual_table(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "loss.json"
    png = tmp_path / "loss.png"
    code, stdout, stderr = run(
        app,
        "replay",
        "--trace",
        str(day_trace(tmp_path)),
        *STACK,
        "--lose-pool",
        "l4-spot@6h+6h",
        "--json",
        str(out),
        "--plot",
        str(png),
    )
    assert code == 0, stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "oracle" in stdout.split("through the pool loss")[0]
    assert "pools in preference order: l4-spot (4 replicas), l4-on-demand (2 replicas)" in stdout
    assert "l4-spot lost at 6.00 h for 6.00 h" in stdout
    data = json.loads(out.read_text())
    loss = data["pool_loss"]
    assert loss["losses"] == [
        {
            "pool": "l4-spot",
            "at_s": 21600.0,
            "duration_s": 21600.0,
            "scored_from_s": 21600.0,
            "scored_to_s": 43200.0,
        }
    ]
    assert set(loss["policies"]) == {"static", "hpa", "kpa", "keda-waiting", "predictive", "deployed"}
    deployed = loss["policies"]["deployed"]
    # The spot replicas vanish and are re-created on the on-demand pool one start-up later.
    assert (
        deployed["loss_window_slo_attainment_feasible"]
        < data["policies"]["deployed"]["slo_attainment_feasible"]
    )
    assert deployed["loss_window_slo_attainment_feasible"] > 0.95


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--lose-pool", "l4-spot"), "--lose-pool 'l4-spot' is not NAME@TIME[+DURATION]"),
        (("--lose-pool", "gpu@1h"), "'gpu' is not one of the model's pools (l4-spot, l4-on-demand)"),
        (("--lose-pool", "l4-spot@30h"), "the loss starts outside the trace (0 to 86400 s)"),
        (("--lose-pool", "l4-spot@1h", "--lose-pool", "l4-spot@2h+1h"), "overlap"),
        (("--lose-pool", "l4-spot@1h", "--policy", "oracle"), "the oracle is not replayed through a loss"),
    ],
)
def test_bad_loss_flags_exit_2(app: typer.Typer, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    code, _, stderr = run(app, "replay", "--trace", str(day_trace(tmp_path)), *STACK, *args)
    assert code == 2
    assert message in stderr
    assert "Traceback" not in stderr


def test_a_loss_needs_the_stack(app: typer.Typer, tmp_path: Path) -> None:
    code, _, stderr = run(
        app,
        "replay",
        "--trace",
        str(day_trace(tmp_path)),
        "--model",
        "Qwen/Qwen2.5-0.5B-Instruct",
        "--gpu",
        "L4",
        "--lose-pool",
        "l4-spot@6h",
    )
    assert code == 2
    assert "--lose-pool l4-spot@6h: needs --stack" in stderr
