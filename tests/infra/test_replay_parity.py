"""The replay's `deployed` policy runs the ScaledObject the plan renders, parameter for parameter.

aws-dev is planned (the real program under the plan's mocks) and replayed with
`llmops replay --stack aws-dev --model qwen2-5-0-5b --policy deployed --json`; every leaf of the
rendered ScaledObject, the forecast PrometheusRule and the ServiceMonitor's scrape interval is
derived from the parameters the replay reports it ran with, and must be what the plan holds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from llmops.components.capacity.promql import rule_group
from llmops.components.capacity.scaling import CronWindow
from llmops.components.serving.autoscaling import predictive_query, reactive_query
from llmops.infra import cli_capacity
from llmops.infra.config import read_stack_file
from llmops.infra.plan import Plan, run_plan
from typer.testing import CliRunner

STACK, MODEL = "aws-dev", "qwen2-5-0-5b"
HPA = "advanced.horizontalPodAutoscalerConfig"


@pytest.fixture(scope="module")
def plan(repo_root: Path) -> Plan:
    return run_plan(read_stack_file(repo_root / "stacks", STACK), STACK)


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the replay reports it ran with, from the CLI's JSON (a small trace: 30 minutes)."""
    folder = tmp_path_factory.mktemp("replay")
    trace = folder / "m.csv"
    trace.write_text(
        "minute,requests,request_tokens,response_tokens\n"
        + "".join(f"{m},{60 + 40 * (m % 7)},{60000 + m},{12000}\n" for m in range(30))
    )
    app = typer.Typer()
    app.command("version")(lambda: None)
    cli_capacity.register(app)
    out = folder / "r.json"
    args = ["replay", "--trace", str(trace), "--stack", STACK, "--model", MODEL, "--policy", "deployed"]
    result = CliRunner().invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.stderr
    return json.loads(out.read_text())


def leaves(node: Any, path: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out |= leaves(value, f"{path}.{key}" if path else key)
        return out
    if isinstance(node, list):
        out = {}
        for index, value in enumerate(node):
            out |= leaves(value, f"{path}[{index}]")
        return out
    return {path: node}


def expected_scaled_object(used: dict[str, Any], namespace: str) -> dict[str, Any]:
    """Every leaf of the ScaledObject's spec, from the replay's parameters and the loop it steps."""
    expected: dict[str, Any] = {
        "scaleTargetRef.apiVersion": "apps/v1",
        "scaleTargetRef.kind": "Deployment",
        "scaleTargetRef.name": MODEL,
        "minReplicaCount": used["min_replicas"],
        "maxReplicaCount": used["max_replicas"],
        "pollingInterval": used["polling_interval_s"],
        "cooldownPeriod": used["scale_down_window_s"],
        "advanced.restoreToOriginalReplicaCount": False,
        f"{HPA}.name": f"keda-hpa-{MODEL}",
    }
    behavior = f"{HPA}.behavior"
    # HpaLoop: scale-up at once (window 0, one period may reach the maximum), scale-down held by
    # the window and then all at once (Percent 100), the tolerance on both.
    expected |= {
        f"{behavior}.scaleUp.stabilizationWindowSeconds": 0,
        f"{behavior}.scaleUp.selectPolicy": "Max",
        f"{behavior}.scaleUp.tolerance": f"{used['tolerance']:g}",
        f"{behavior}.scaleUp.policies[0].type": "Pods",
        f"{behavior}.scaleUp.policies[0].value": used["max_replicas"],
        f"{behavior}.scaleUp.policies[0].periodSeconds": used["scale_up_period_s"],
        f"{behavior}.scaleDown.stabilizationWindowSeconds": used["scale_down_window_s"],
        f"{behavior}.scaleDown.selectPolicy": "Max",
        f"{behavior}.scaleDown.tolerance": f"{used['tolerance']:g}",
        f"{behavior}.scaleDown.policies[0].type": "Percent",
        f"{behavior}.scaleDown.policies[0].value": 100,
        f"{behavior}.scaleDown.policies[0].periodSeconds": used["scale_up_period_s"],
    }
    triggers: list[dict[str, Any]] = [
        {
            "type": "prometheus",
            "name": "reactive",
            "metricType": "AverageValue",
            "metadata": {
                "serverAddress": used["prometheus_url"],
                "query": reactive_query(namespace, MODEL),
                "threshold": f"{used['reactive_threshold']:g}",
                "ignoreNullValues": "true",
            },
        }
    ]
    if used["predictive"]:
        triggers.append(
            {
                "type": "prometheus",
                "name": "predictive",
                "metricType": "AverageValue",
                "metadata": {
                    "serverAddress": used["prometheus_url"],
                    "query": predictive_query(used["served_model_name"]),
                    "threshold": f"{used['predictive_threshold']:g}",
                    "ignoreNullValues": "true",
                },
            }
        )
    for window in used["windows"]:
        cron = CronWindow(**window)
        triggers.append(
            {
                "type": "cron",
                "name": f"window-{window['name']}",
                "metadata": {
                    "timezone": window["timezone"],
                    "start": cron.cron(window["start"]),
                    "end": cron.cron(window["end"]),
                    "desiredReplicas": str(window["replicas"]),
                },
            }
        )
    return expected | leaves(triggers, "triggers")


def test_every_scaled_object_parameter_is_the_one_the_replay_used(
    plan: Plan, replayed: dict[str, Any]
) -> None:
    used = replayed["parameters"]["deployed"]
    (resource,) = plan.of_type("kubernetes:keda.sh/v1alpha1:ScaledObject")
    rendered = leaves(resource.inputs["spec"])
    assert rendered == expected_scaled_object(used, plan.config.namespace)
    # The stack's own numbers, not the replay's defaults.
    assert (used["min_replicas"], used["max_replicas"], used["windows"][0]["name"]) == (1, 4, "workday")


def test_the_forecast_rule_is_the_one_the_replay_used(plan: Plan, replayed: dict[str, Any]) -> None:
    used = replayed["parameters"]["deployed"]
    (rule,) = [
        r
        for r in plan.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
        if r.name.endswith("-forecast")
    ]
    expected = yaml.safe_load(
        rule_group(
            used["served_model_name"],
            used["demand_prefill_s_per_token"],
            used["demand_decode_s_per_token"],
            used["forecast_startup_s"],
            window_s=used["demand_window_s"],
            interval_s=used["rule_interval_s"],
            rise_window_s=used["forecast_rise_window_s"],
        )
    )["groups"]
    assert rule.inputs["spec"]["groups"] == expected
    assert used["forecast_lookahead_s"] == used["forecast_startup_s"] + used["demand_window_s"]


def test_the_replays_timings_are_the_clusters(plan: Plan, replayed: dict[str, Any]) -> None:
    used = replayed["parameters"]["deployed"]
    (monitor,) = [
        r for r in plan.of_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor") if MODEL in r.name
    ]
    intervals = {e["interval"] for e in monitor.inputs["spec"]["endpoints"]}
    assert intervals == {f"{used['scrape_interval_s']:g}s"}
    # The HPA's sync period is kube-controller-manager's default: nothing in the plan changes it.
    assert used["hpa_sync_period_s"] == 15
    assert "horizontal-pod-autoscaler-sync-period" not in json.dumps(plan.to_json())
    # The simulated start-up is the model's startupS, the one the forecast looks ahead by.
    assert replayed["model"]["startup_s"] == used["forecast_startup_s"]


def test_a_model_outside_the_catalog_cannot_be_replayed_from_its_stack() -> None:
    from llmops.infra.replay_stack import StackModelError, stack_model

    from tests.infra.test_autoscaling import stack
    from tests.infra.test_config import parse_text

    text = (
        stack("{maxReplicas: 2, predictive: false}")
        .replace("Qwen/Qwen2.5-0.5B-Instruct", "acme/unknown-model")
        .replace("      pool: l4-spot\n", "      pool: l4-spot\n      maxNumSeqs: 32\n")
    )
    with pytest.raises(StackModelError) as raised:
        stack_model(parse_text(text), "qwen")
    assert str(raised.value) == (
        "models[0].source: 'acme/unknown-model' has no figures in the capacity catalog on L4, so the "
        "replay cannot size its replicas. Fix: replay a catalog model of the same size with --model "
        "and --gpu (see llmops capacity)"
    )
