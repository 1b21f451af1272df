"""The ScaledObject's PromQL: valid (promtool), on metrics vLLM exposes, and evaluated by a real Prometheus.

Synthetic vLLM series (three replicas' running and waiting requests, as the ServiceMonitor
labels them) and a forecast series (the recording rule's output for a synthetic demand, from
the same `forecast()` the replay uses) are backfilled into a real Prometheus. The reactive and
predictive trigger queries, exactly as the ScaledObject carries them, are evaluated there at
many instants, and the replica count the HPA arithmetic gives from Prometheus' answers is the
one it gives from the Python series.
"""

from __future__ import annotations

import math
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from components.capacity.promql import DEMAND_RECORD, FORECAST_RECORD, forecast, rule_group
from components.capacity.replay import ReplaySettings
from components.serving.autoscaling import (
    AutoscalingSpec,
    TriggerValues,
    desired_replicas,
    recommendations,
    scaled_object,
)
from tests.components.observability.promql import exposed_vllm_names, metric_names
from tests.conftest import require_shared
from tests.support.prometheus import backfilled_prometheus, instant
from tests.support.tools import require_tool

pytestmark = pytest.mark.slow

MODEL, NAMESPACE, SERVED = "qwen", "llmops", "qwen2.5-0.5b-instruct"
SPEC = AutoscalingSpec(
    min_replicas=1, max_replicas=12, target=0.8, working_batch=16, predictive=True, served_model_name=SERVED
)
STEP_S = 15
SAMPLES = 480  # two hours
PODS = ("qwen-6f9c-a", "qwen-6f9c-b", "qwen-6f9c-c")
LOOKAHEAD_S = 240  # start-up 180 s + the rate window


def prometheus_triggers(spec: AutoscalingSpec = SPEC) -> dict[str, str]:
    triggers = scaled_object(spec, MODEL, NAMESPACE)["spec"]["triggers"]
    return {t["name"]: t["metadata"]["query"] for t in triggers if t["type"] == "prometheus"}


def test_trigger_queries_pass_promtool(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    rules = {
        "groups": [
            {
                "name": "triggers",
                "rules": [
                    {"record": f"check:{name}", "expr": q} for name, q in prometheus_triggers().items()
                ],
            }
        ]
    }
    path = tmp_path / "triggers.yaml"
    path.write_text(yaml.safe_dump(rules))
    checked = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 2 rules found" in checked.stdout


def test_trigger_queries_read_metrics_that_exist() -> None:
    exposed = exposed_vllm_names(require_shared("reference/vllm/metrics.txt"))
    recorded = {
        rule["record"]
        for group in yaml.safe_load(rule_group(SERVED, 1e-5, 1e-4, startup_s=180))["groups"]
        for rule in group["rules"]
    }
    names = set()
    for query in prometheus_triggers().values():
        names |= metric_names(query)
    assert names == {"vllm:num_requests_running", "vllm:num_requests_waiting", FORECAST_RECORD}
    for name in names:
        assert name in exposed or name in recorded, name


def _synthetic() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pod running/waiting requests and the forecast, one row per sample."""
    rng = np.random.default_rng(12)
    t = np.arange(SAMPLES)
    # A morning ramp with bursts: in flight across three pods from ~5 to ~140.
    base = 5 + 130 / (1 + np.exp(-(t - 200) / 25))
    burst = np.where((t % 97) < 6, 60.0, 0.0)
    total = base + burst
    share = rng.dirichlet(np.ones(len(PODS)), size=SAMPLES)
    running = np.floor(np.minimum(total[:, None] * share, 16))
    waiting = np.floor(np.maximum(total[:, None] * share - running, 0))
    demand = total / SPEC.working_batch
    predicted = forecast(demand, STEP_S, LOOKAHEAD_S)
    return running, waiting, predicted


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    running, waiting, predicted = _synthetic()
    start = (int(time.time()) // 3600 - 6) * 3600
    lines = []
    for metric, values in (("vllm:num_requests_running", running), ("vllm:num_requests_waiting", waiting)):
        lines.append(f"# TYPE {metric} gauge")
        for pod_index, pod in enumerate(PODS):
            labels = (
                f'job="vllm",namespace="{NAMESPACE}",llmops_model="{MODEL}",pod="{pod}",'
                f'model_name="{SERVED}",engine="0"'
            )
            lines += [
                f"{metric}{{{labels}}} {values[i, pod_index]:g} {start + i * STEP_S}" for i in range(SAMPLES)
            ]
    # A replica of another model in the same namespace must not count.
    lines += [
        f'vllm:num_requests_running{{job="vllm",namespace="{NAMESPACE}",llmops_model="other",pod="o",'
        f'model_name="other",engine="0"}} 999 {start + i * STEP_S}'
        for i in range(SAMPLES)
    ]
    lines.append(f"# TYPE {FORECAST_RECORD} gauge")
    lines += [
        f'{FORECAST_RECORD}{{model_name="{SERVED}"}} {predicted[i]:.17g} {start + i * STEP_S}'
        for i in range(SAMPLES)
    ]
    lines.append("# EOF")
    with backfilled_prometheus(tmp_path_factory.mktemp("prometheus"), lines) as base:
        yield base, start


def _value(base: str, query: str, at: int) -> float:
    (sample,) = instant(base, query, at)
    return float(sample["value"][1])


def test_prometheus_gives_the_replicas_the_python_policy_computes(prometheus: tuple[str, int]) -> None:
    base, start = prometheus
    running, waiting, predicted = _synthetic()
    queries = prometheus_triggers()
    current = 3
    seen_reactive, seen_predictive = set(), set()
    for i in range(0, SAMPLES, 7):
        at = start + i * STEP_S
        in_flight = _value(base, queries["reactive"], at)
        expected_flight = float(running[i].sum() + waiting[i].sum())
        assert in_flight == pytest.approx(expected_flight), f"sample {i}"
        from_prometheus = TriggerValues(in_flight, _value(base, queries["predictive"], at))
        assert from_prometheus.forecast == pytest.approx(predicted[i], rel=1e-9)
        from_python = TriggerValues(expected_flight, float(predicted[i]))
        assert recommendations(SPEC, current, from_prometheus) == recommendations(SPEC, current, from_python)
        wanted = desired_replicas(SPEC, current, from_prometheus)
        assert wanted == desired_replicas(SPEC, current, from_python)
        seen_reactive.add(recommendations(SPEC, current, from_prometheus)["reactive"])
        seen_predictive.add(recommendations(SPEC, current, from_prometheus)["predictive"])
        current = wanted
    # The series exercise the policy: many sizes, and the tolerance band that keeps one.
    assert len(seen_reactive) >= 5 and len(seen_predictive) >= 5


def test_predictive_trigger_is_the_replays_predictive_target(prometheus: tuple[str, int]) -> None:
    """The replay's predictive policy sizes for ceil(forecast / target utilisation); the HPA on
    the forecast trigger gives the same count whenever it leaves the tolerance band."""
    base, start = prometheus
    _, _, predicted = _synthetic()
    settings = ReplaySettings(SERVED, "L4")
    assert settings.target_utilization == SPEC.target
    query = prometheus_triggers()["predictive"]
    for i in range(0, SAMPLES, 11):
        value = _value(base, query, start + i * STEP_S)
        replay_target = math.ceil(predicted[i] / settings.target_utilization - 1e-9)
        hpa = recommendations(SPEC, 1, TriggerValues(0.0, value))["predictive"]
        if abs(value / SPEC.predictive_threshold - 1) <= SPEC.tolerance:
            assert hpa == 1, f"sample {i}: inside the tolerance band the HPA keeps its size"
        else:
            assert hpa == replay_target, f"sample {i}"


def test_the_demand_record_is_what_the_forecast_reads() -> None:
    group = yaml.safe_load(rule_group(SERVED, 1e-5, 1e-4, startup_s=180))["groups"][0]
    forecast_rule = next(r for r in group["rules"] if r["record"] == FORECAST_RECORD)
    assert f'{DEMAND_RECORD}{{model_name="{SERVED}"}}' in forecast_rule["expr"]
