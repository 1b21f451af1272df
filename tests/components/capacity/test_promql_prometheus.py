"""The predictive rule as Prometheus evaluates it equals the Python forecast the replay uses.

A trace-derived demand series is backfilled with `promtool tsdb create-blocks-from openmetrics`,
a real Prometheus serves that storage on a free local port, and the rendered rule expression is
evaluated through /api/v1/query at timestamps that exercise every term (rise only, yesterday,
last week).
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from llmops.components.capacity.promql import DEMAND_RECORD, PredictiveRule, forecast, rule_group
from llmops.components.capacity.replay import ReplaySettings
from llmops.components.capacity.throughput import TokenMix, replica_capacity, replica_perf
from llmops.components.capacity.traces import read_trace

from tests.conftest import require_shared
from tests.support.prometheus import backfilled_prometheus, instant
from tests.support.tools import require_tool

pytestmark = pytest.mark.slow

STEP_S = 60
DAYS = 8
LOOKAHEAD_S = 180 + 60  # start-up + rate window, the replay's defaults
MODEL = "meta-llama/Llama-3.1-8B-Instruct"


def _demand_series() -> np.ndarray:
    """Busy H100 replicas per minute for the first eight days of the ServeGen series."""
    trace = read_trace(require_shared("data/traces/servegen-language-m-mid.minute.csv"))
    settings = ReplaySettings(MODEL, "H100")
    mean_in, mean_out = trace.mean_tokens()
    capacity = replica_capacity(
        replica_perf(MODEL, "H100", max_model_len=settings.max_model_len), TokenMix(mean_in, mean_out)
    )
    minutes = DAYS * 1440
    work = (
        trace.input_tokens[:minutes] / capacity.prefill_tokens_per_s
        + trace.output_tokens[:minutes] * capacity.decode_s_per_token
    )
    return work / STEP_S


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, np.ndarray]]:
    demand = _demand_series()
    folder = tmp_path_factory.mktemp("prometheus")
    # Recent enough that no retention setting can drop it, aligned to the step.
    start = (int(time.time()) // 86400 - DAYS - 2) * 86400
    lines = [f"# TYPE {DEMAND_RECORD} gauge"]
    lines += [
        f'{DEMAND_RECORD}{{model_name="{MODEL}"}} {value:.17g} {start + index * STEP_S}'
        for index, value in enumerate(demand)
    ]
    lines.append("# EOF")
    with backfilled_prometheus(folder, lines) as base:
        yield base, start, demand


def _query(base: str, expression: str, at: int) -> float | None:
    result = instant(base, expression, at)
    if not result:
        return None
    assert len(result) == 1, result
    assert result[0]["metric"] == {"model_name": MODEL}
    return float(result[0]["value"][1])


def _query_range(base: str, expression: str, first: int, last: int) -> dict[int, float]:
    query = urllib.parse.urlencode({"query": expression, "start": first, "end": last, "step": f"{STEP_S}s"})
    with urllib.request.urlopen(f"{base}/api/v1/query_range?{query}", timeout=30) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    (series,) = body["data"]["result"]
    return {int(float(at)): float(value) for at, value in series["values"]}


def test_rule_in_prometheus_equals_python_forecast(backfilled: tuple[str, int, np.ndarray]) -> None:
    base, start, demand = backfilled
    expected = forecast(demand, STEP_S, LOOKAHEAD_S)
    # The rise term's subquery samples at the series' own step here, as the replay's twin does.
    expression = PredictiveRule(LOOKAHEAD_S, step_s=STEP_S).expression()
    # The rise term is at work: somewhere the forecast exceeds every plain term.
    assert (expected > demand + 1e-6).mean() > 0.1
    # Instant queries at a few points: early (rise only), days 2-6 (yesterday), day 7+ (last week too).
    for minute in (30, 1500, 3333, 7300, 10_085, 11_519):
        got = _query(base, expression, start + minute * STEP_S)
        assert got is not None, f"no value at minute {minute}"
        assert got == pytest.approx(expected[minute], rel=1e-6, abs=1e-9), f"minute {minute}"
    # Every minute of three whole days, one of each regime.
    for day in (0, 3, 7):
        first = day * 1440
        got = _query_range(base, expression, start + first * STEP_S, start + (first + 1439) * STEP_S)
        values = np.array([got[start + minute * STEP_S] for minute in range(first, first + 1440)])
        np.testing.assert_allclose(values, expected[first : first + 1440], rtol=1e-6, atol=1e-9)


def test_seasonal_terms_appear_once_history_exists(backfilled: tuple[str, int, np.ndarray]) -> None:
    base, start, _ = backfilled
    demand = DEMAND_RECORD
    day_term = f"({demand} + ({demand} offset {86400 - LOOKAHEAD_S}s) - ({demand} offset 86400s))"
    assert _query(base, day_term, start + 600 * STEP_S) is None
    assert _query(base, day_term, start + 3333 * STEP_S) is not None


def test_rendered_rule_file_passes_promtool(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    path = tmp_path / "rules.yaml"
    path.write_text(rule_group(MODEL, 3.7e-5, 9.1e-5, startup_s=180))
    checked = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 2 rules found" in checked.stdout
