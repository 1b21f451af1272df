"""The ScaledObject's PromQL: valid (promtool), on metrics vLLM exposes, and evaluated by a real Prometheus.

Synthetic vLLM series (three replicas' running and waiting requests, as the ServiceMonitor
labels them) and a forecast series (the recording rule's output for synthetic token counts,
computed by the replay's own `deployed_forecast`) are backfilled into a real Prometheus. The
reactive and predictive trigger queries, exactly as the ScaledObject carries them, are evaluated
there at many instants and fed to the replay's `HpaLoop` (the loop its `deployed` policy steps);
the replicas it decides from Prometheus' answers are the ones it decides from the series the
replay holds.
"""

from __future__ import annotations

import itertools
import math
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml
from llmops.components.capacity.promql import DEMAND_RECORD, FORECAST_RECORD, rule_group
from llmops.components.capacity.replay import ReplaySettings, deployed_forecast
from llmops.components.capacity.scaling import DemandRule, HpaLoop
from llmops.components.serving.autoscaling import (
    AutoscalingSpec,
    TriggerValues,
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
# Per-token costs of the demand record, and a 180 s start-up (look-ahead 240 s with the rate window).
RULE = DemandRule(prefill_s_per_token=1.1e-5, decode_s_per_token=8.9e-5, startup_s=180)


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
    # Token counts per sample whose demand (busy replicas) is about the in-flight share of a batch.
    generated = total / SPEC.working_batch * STEP_S / (RULE.decode_s_per_token + 5 * RULE.prefill_s_per_token)
    predicted = deployed_forecast(5 * generated, generated, RULE, STEP_S)
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


def test_prometheus_gives_the_replicas_the_replay_decides(prometheus: tuple[str, int]) -> None:
    """One HPA sync every 7 samples (105 s, so the 300 s scale-down window spans several)."""
    base, start = prometheus
    running, waiting, predicted = _synthetic()
    queries = prometheus_triggers()
    cluster, replayed = HpaLoop(SPEC, initial=3), HpaLoop(SPEC, initial=3)
    current = 3
    sizes, seen_reactive, seen_predictive = [], set(), set()
    for i in range(0, SAMPLES, 7):
        at = start + i * STEP_S
        in_flight = _value(base, queries["reactive"], at)
        expected_flight = float(running[i].sum() + waiting[i].sum())
        assert in_flight == pytest.approx(expected_flight), f"sample {i}"
        from_prometheus = TriggerValues(in_flight, _value(base, queries["predictive"], at))
        assert from_prometheus.forecast == pytest.approx(predicted[i], rel=1e-9)
        from_replay = TriggerValues(expected_flight, float(predicted[i]))
        wanted = recommendations(SPEC, current, from_prometheus)
        assert wanted == recommendations(SPEC, current, from_replay)
        seen_reactive.add(wanted["reactive"])
        seen_predictive.add(wanted["predictive"])
        size = cluster.step(i * STEP_S, current, from_prometheus)
        assert size == replayed.step(i * STEP_S, current, from_replay), f"sample {i}"
        sizes.append(size)
        current = size
    # The series exercise the policy: many sizes, the tolerance band that keeps one, scale-down
    # held by the window and then taken.
    assert len(seen_reactive) >= 5 and len(seen_predictive) >= 5
    assert len(set(sizes)) >= 4 and any(b < a for a, b in itertools.pairwise(sizes))


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
