"""ObservabilityStack under Pulumi's mock engine: releases, versions, namespaces, values, rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import kubernetes_validate
import pulumi
import pytest
from llmops.infra.plan import MOCK_SECRET_MARKER, PlanMocks

from tests.conftest import require_shared


class RecordingMocks(PlanMocks):
    """The plan's mocks, recording every resource."""

    def __init__(self) -> None:
        super().__init__(preview=False)
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.resources.append(args)
        return super().new_resource(args)

    def of_type(self, typ: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [r for r in self.resources if r.typ == typ]


MOCKS = RecordingMocks()
pulumi.runtime.set_mocks(MOCKS, preview=False)

# Imported after the mocks are set, as a program would be.
from llmops.components.observability import (  # noqa: E402
    ObservabilityStack,
    ObservabilityStackArgs,
    ObservabilityStackArgsError,
    vllm_service_monitor,
)

RELEASE = "kubernetes:helm.sh/v3:Release"
# How the Pulumi SDK marks a secret value on the wire.
SECRET_SIG = pulumi.runtime.rpc._special_sig_key  # pyright: ignore[reportPrivateUsage]
SECRET_SIG_VALUE = pulumi.runtime.rpc._special_secret_sig  # pyright: ignore[reportPrivateUsage]


@pytest.fixture(autouse=True)
def fresh_mocks() -> Iterator[RecordingMocks]:
    MOCKS.resources.clear()
    pulumi.runtime.set_mocks(MOCKS, preview=False)
    yield MOCKS


def releases_by_chart() -> dict[str, dict[str, Any]]:
    return {r.inputs["chart"]: r.inputs for r in MOCKS.of_type(RELEASE)}


@pulumi.runtime.test
def deploy_default() -> pulumi.Output[Any]:
    stack = ObservabilityStack("obs", ObservabilityStackArgs(gpu_price_per_hour={"a100-spot": 1.9}))
    return pulumi.Output.all(stack.prometheus_url, stack.loki_url, stack.grafana_service).apply(
        lambda urls: _check_urls(*urls)
    )


def _check_urls(prometheus: str, loki: str, grafana: str) -> None:
    assert prometheus == "http://obs-kps-prometheus.monitoring.svc:9090"
    assert loki == "http://obs-loki.monitoring.svc:3100"
    assert grafana == "obs-kps-grafana"


def test_default_stack_installs_pinned_releases_in_its_namespace() -> None:
    deploy_default()
    releases = releases_by_chart()
    assert {chart: (r["version"], r["repositoryOpts"]["repo"]) for chart, r in releases.items()} == {
        "kube-prometheus-stack": ("88.5.3", "https://prometheus-community.github.io/helm-charts"),
        "loki": ("18.11.0", "https://grafana-community.github.io/helm-charts"),
        "fluent-bit": ("0.58.1", "https://fluent.github.io/helm-charts"),
    }
    assert {r["name"] for r in releases.values()} == {"obs-kps", "obs-loki", "obs-logs"}
    assert {r["namespace"] for r in releases.values()} == {"monitoring"}
    namespaces = MOCKS.of_type("kubernetes:core/v1:Namespace")
    assert [n.inputs["metadata"]["name"] for n in namespaces] == ["monitoring"]
    assert {r.name for r in MOCKS.of_type(RELEASE)} == {
        "obs-kube-prometheus-stack",
        "obs-loki",
        "obs-fluent-bit",
    }


def test_values_reach_the_releases() -> None:
    deploy_default()
    releases = releases_by_chart()
    kps = releases["kube-prometheus-stack"]["values"]
    assert kps["prometheus"]["prometheusSpec"]["ruleSelectorNilUsesHelmValues"] is False
    assert kps["prometheus"]["prometheusSpec"]["scrapeInterval"] == "15s"
    assert kps["grafana"]["admin"]["existingSecret"] == "obs-grafana-admin"
    assert kps["grafana"]["additionalDataSources"][0]["url"] == "http://obs-loki.monitoring.svc:3100"
    assert releases["loki"]["values"]["loki"]["limits_config"]["retention_period"] == "168h"
    assert releases["loki"]["values"]["deploymentMode"] == "Monolithic"


def test_grafana_password_is_generated_and_stored_in_a_secret() -> None:
    deploy_default()
    secrets = MOCKS.of_type("kubernetes:core/v1:Secret")
    assert len(secrets) == 1
    secret = secrets[0].inputs
    assert secret["metadata"] == {"name": "obs-grafana-admin", "namespace": "monitoring"}
    # The whole stringData reaches the engine wrapped as a secret (Pulumi's secret signature).
    assert secret["stringData"] == {
        SECRET_SIG: SECRET_SIG_VALUE,
        "value": {"admin-user": "admin", "admin-password": f"{MOCK_SECRET_MARKER}-obs-grafana-password"},
    }
    assert len(MOCKS.of_type("random:index/randomPassword:RandomPassword")) == 1


def test_rules_and_dashboards_are_shipped() -> None:
    deploy_default()
    rules = MOCKS.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
    assert len(rules) == 1
    groups = rules[0].inputs["spec"]["groups"]
    alerts = {r["alert"] for g in groups for r in g["rules"] if "alert" in r}
    assert {"VllmReplicaDown", "VllmEngineHung", "GpuXidError", "NodeReclaimedOrDraining"} <= alerts
    prices = next(g for g in groups if g["name"] == "llmops-gpu-prices")["rules"]
    assert prices == [
        {"record": "llmops:gpu_price_usd_per_hour", "expr": "vector(1.9)", "labels": {"pool": "a100-spot"}}
    ]

    maps = MOCKS.of_type("kubernetes:core/v1:ConfigMap")
    assert sorted(m.inputs["metadata"]["name"] for m in maps) == [
        "obs-dashboard-cost",
        "obs-dashboard-gpu-fleet",
        "obs-dashboard-llm-serving",
    ]
    for config_map in maps:
        assert config_map.inputs["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert config_map.inputs["metadata"]["namespace"] == "monitoring"
        (text,) = config_map.inputs["data"].values()
        assert json.loads(text)["uid"].startswith("llmops-")


@pulumi.runtime.test
def deploy_two_instances_with_deepflow() -> None:
    ObservabilityStack(
        "obs",
        ObservabilityStackArgs(
            enable_deepflow=True, grafana_admin_password="correct-horse-battery", create_namespace=False
        ),
    )
    ObservabilityStack("obs2", ObservabilityStackArgs(namespace="monitoring-2", enable_fluent_bit=False))


def test_two_instances_do_not_collide_and_deepflow_is_optional() -> None:
    deploy_two_instances_with_deepflow()
    releases = MOCKS.of_type(RELEASE)
    names = [(r.inputs["namespace"], r.inputs["name"]) for r in releases]
    assert len(names) == len(set(names)), names
    assert sorted(r.inputs["name"] for r in releases) == [
        "obs-deepflow",
        "obs-kps",
        "obs-logs",
        "obs-loki",
        "obs2-kps",
        "obs2-loki",
    ]
    deepflow = next(r for r in releases if r.inputs["chart"] == "deepflow").inputs
    assert deepflow["version"] == "7.1.002"
    # create_namespace=False: only obs2 creates its namespace; a given password skips pulumi_random.
    assert [n.inputs["metadata"]["name"] for n in MOCKS.of_type("kubernetes:core/v1:Namespace")] == [
        "monitoring-2"
    ]
    assert len(MOCKS.of_type("random:index/randomPassword:RandomPassword")) == 1
    resource_names = [r.name for r in MOCKS.resources]
    assert len(resource_names) == len(set(resource_names)), "Pulumi names must be unique per instance"


def test_bad_arguments_are_reported_together_before_any_resource() -> None:
    args = ObservabilityStackArgs(
        namespace="Monitoring",
        scrape_interval="15 seconds",
        log_retention_hours=100,
        loki_storage_size="20 GB",
        gpu_price_per_hour={"a100": -2.0},
        enable_loki=False,
    )
    with pytest.raises(ObservabilityStackArgsError) as info:
        ObservabilityStack("a-name-that-is-far-too-long", args)
    assert info.value.problems == [
        "name: 'a-name-that-is-far-too-long' must be lowercase letters, digits and '-', at most 22 "
        "characters (Helm release and service names derive from it); use a short name like 'obs'",
        "namespace: 'Monitoring' is not a Kubernetes namespace name (lowercase letters, digits, '-', "
        "at most 63); use e.g. 'monitoring'",
        "scrape_interval: '15 seconds' is not a Prometheus duration; use e.g. '15s' or '15d'",
        "log_retention_hours: 100 must be a positive multiple of 24 (Loki's index period); "
        "use e.g. 168 for 7 days",
        "loki_storage_size: '20 GB' is not a Kubernetes quantity; use e.g. '20Gi'",
        "enable_fluent_bit: True needs enable_loki: True (fluent-bit ships to this stack's Loki); "
        "enable Loki or disable fluent-bit",
        "gpu_price_per_hour['a100']: -2.0 is negative; give the price in USD per GPU-hour, e.g. 2.5",
    ]
    assert MOCKS.resources == []


def test_preview_with_unknown_values_builds_the_same_tree() -> None:
    """In preview the generated password is unknown; the component must not need its value."""
    pulumi.runtime.set_mocks(MOCKS, preview=True)
    try:
        deploy_default()
    finally:
        pulumi.runtime.set_mocks(MOCKS, preview=False)
    assert {r.inputs["chart"] for r in MOCKS.of_type(RELEASE)} == {
        "kube-prometheus-stack",
        "loki",
        "fluent-bit",
    }
    assert len(MOCKS.of_type("kubernetes:core/v1:Secret")) == 1


def _unwrap_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_SIG_VALUE:
            return _unwrap_secrets(value["value"])
        return {k: _unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap_secrets(v) for v in value]
    return value


def test_kubernetes_objects_pass_the_api_and_crd_schemas() -> None:
    deploy_default()
    checked = 0
    for resource in MOCKS.resources:
        obj = _unwrap_secrets(dict(resource.inputs))
        if resource.typ in {
            "kubernetes:core/v1:Namespace",
            "kubernetes:core/v1:Secret",
            "kubernetes:core/v1:ConfigMap",
        }:
            kubernetes_validate.validate(obj, "1.33.0", strict=True)
            checked += 1
        elif resource.typ == "kubernetes:monitoring.coreos.com/v1:PrometheusRule":
            schema = json.loads(
                require_shared(
                    "reference/crd-schemas/monitoring.coreos.com/prometheusrule_v1.json"
                ).read_text()
            )
            jsonschema.Draft7Validator(schema).validate(obj)
            checked += 1
    assert checked == 6  # namespace, secret, three dashboards, the rules


@pulumi.runtime.test
def deploy_service_monitor() -> None:
    vllm_service_monitor("llama-metrics", "serving", {"llmops.io/model": "llama"})


def test_vllm_service_monitor_resource_passes_the_crd_schema() -> None:
    deploy_service_monitor()
    (monitor,) = MOCKS.of_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
    assert monitor.name == "llama-metrics"
    schema = json.loads(
        require_shared("reference/crd-schemas/monitoring.coreos.com/servicemonitor_v1.json").read_text()
    )
    jsonschema.Draft7Validator(schema).validate(dict(monitor.inputs))
    assert monitor.inputs["metadata"] == {
        "name": "llama-metrics",
        "namespace": "serving",
        "labels": {"app.kubernetes.io/managed-by": "llmops", "app.kubernetes.io/component": "metrics"},
    }
    assert monitor.inputs["spec"]["endpoints"][0]["interval"] == "2s"
