"""ServiceMonitor and PrometheusRule objects validate against the prometheus-operator CRD schemas."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest
from llmops.components.observability import manifests

from tests.conftest import require_shared


def crd_validator(kind: str) -> jsonschema.Draft7Validator:
    path = require_shared(f"reference/crd-schemas/monitoring.coreos.com/{kind}_v1.json")
    return jsonschema.Draft7Validator(json.loads(path.read_text()))


def schema_errors(kind: str, obj: dict[str, Any]) -> list[str]:
    return [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in crd_validator(kind).iter_errors(obj)
    ]


def service_monitor(**overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "name": "llama-metrics",
        "namespace": "serving",
        "selector_labels": {"llmops.io/model": "llama"},
    }
    kwargs.update(overrides)
    return manifests.vllm_service_monitor_manifest(**kwargs)


def test_service_monitor_passes_the_crd_schema() -> None:
    obj = service_monitor()
    assert schema_errors("servicemonitor", obj) == []
    endpoint = obj["spec"]["endpoints"][0]
    assert (endpoint["port"], endpoint["interval"], endpoint["scrapeTimeout"]) == ("http", "2s", "2s")
    assert obj["spec"]["selector"] == {"matchLabels": {"llmops.io/model": "llama"}}
    assert obj["spec"]["namespaceSelector"] == {"matchNames": ["serving"]}


def test_service_monitor_sets_the_labels_the_rules_select_on() -> None:
    relabelings = service_monitor()["spec"]["endpoints"][0]["relabelings"]
    targets = {r["targetLabel"]: r.get("replacement") or r["sourceLabels"][0] for r in relabelings}
    assert targets == {
        "job": manifests.VLLM_JOB,
        "llmops_model": "__meta_kubernetes_pod_label_llmops_io_model",
        "node": "__meta_kubernetes_pod_node_name",
    }


def test_schema_check_would_catch_a_bad_interval() -> None:
    """Guard that the schema is really applied: an interval without a unit must fail it."""
    bad = copy.deepcopy(service_monitor())
    bad["spec"]["endpoints"][0]["interval"] = "2"
    assert any("does not match" in e for e in schema_errors("servicemonitor", bad))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"interval": "2"}, "interval: '2' is not a Prometheus duration. Fix: write it like '2s'"),
        (
            {"scrape_timeout": "5s"},
            "scrape_timeout: '5s' is longer than the interval '2s', which Prometheus rejects",
        ),
        ({"selector_labels": {}}, "selector_labels: {} is empty. Fix: give the Service's labels"),
    ],
)
def test_service_monitor_bad_input_names_the_argument(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="ServiceMonitor 'llama-metrics'") as info:
        service_monitor(**overrides)
    assert message in str(info.value)


def test_prometheus_rule_passes_the_crd_schema_with_and_without_prices() -> None:
    for prices in ({}, {"a100-spot": 1.9, "l4-on-demand": 0.8}):
        groups = manifests.alert_rule_groups(prices)
        obj = manifests.prometheus_rule_manifest("obs-alert-rules", "monitoring", groups)
        assert schema_errors("prometheusrule", obj) == []
    names = [g["name"] for g in groups]
    assert len(names) == len(set(names)), f"duplicate group names: {names}"
    assert names[-1] == "llmops-gpu-prices"
    assert groups[-1]["rules"][0] == {
        "record": "llmops:gpu_price_usd_per_hour",
        "expr": "vector(1.9)",
        "labels": {"pool": "a100-spot"},
    }


def test_prometheus_rule_schema_check_would_catch_a_bad_for() -> None:
    groups = copy.deepcopy(manifests.alert_rule_groups())
    groups[0]["rules"][0]["for"] = "five seconds"
    obj = manifests.prometheus_rule_manifest("x", "monitoring", groups)
    assert any("does not match" in e for e in schema_errors("prometheusrule", obj))


def test_bad_prices_are_all_reported_with_key_path_and_fix() -> None:
    problems = manifests.validate_gpu_prices(
        {"a100": -1, "Bad Pool": 2.0, "l4": "cheap"}, "gpu_price_per_hour"
    )
    assert problems == [
        "gpu_price_per_hour['a100']: -1 is negative; give the price in USD per GPU-hour, e.g. 2.5",
        "gpu_price_per_hour['Bad Pool']: pool name 'Bad Pool' must be letters, digits, '-', '_' or '.' "
        "(it becomes a Prometheus label value); use the node pool's name",
        "gpu_price_per_hour['l4']: 'cheap' is not a number; give the price in USD per GPU-hour, e.g. 2.5",
    ]


def test_duration_parsing() -> None:
    assert manifests.duration_seconds("1m30s") == 90
    assert manifests.duration_seconds("500ms") == 0.5
    with pytest.raises(ValueError, match="'2 s' is not a Prometheus duration"):
        manifests.duration_seconds("2 s")
