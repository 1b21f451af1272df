"""Every Helm value the stack sets must exist in the pinned chart's own values.yaml.

A misspelled key is silently ignored by Helm (the chart just uses its default), so the
walk below compares every key path we set against the chart's default values from
../shared/reference/helm-values/, with the value's type. Free-form maps whose default is
empty (or whose keys belong to another schema) are listed in EXCEPTIONS with the reason.
Loki's values are also validated against the chart's values.schema.json.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from llmops.components.observability import charts
from llmops.components.observability.charts import ReleaseNames
from llmops.components.observability.stack import ObservabilityStackArgs

from tests.conftest import require_shared

NAMES = ReleaseNames.for_instance("obs")

# path -> why its contents cannot be found in the chart's values.yaml
EXCEPTIONS: dict[str, dict[str, str]] = {
    "kube-prometheus-stack": {
        # default {}: a prometheus-operator StorageSpec, documented in the operator's API, not values.yaml
        "prometheus.prometheusSpec.storageSpec": "StorageSpec of the Prometheus CRD; default is an empty map",
        # subchart value: the parent values.yaml lists only the kube-state-metrics keys it overrides;
        # metricLabelsAllowlist is a top-level key of the kube-state-metrics chart's values.yaml
        "kube-state-metrics.metricLabelsAllowlist": "key of the kube-state-metrics subchart",
        # top-level `resources: {}` of the grafana 12.11.1, kube-state-metrics 8.4.0 and
        # prometheus-node-exporter 4.56.1 subcharts (checked in their values.yaml)
        "grafana.resources": "key of the grafana subchart",
        "kube-state-metrics.resources": "key of the kube-state-metrics subchart",
        "prometheus-node-exporter.resources": "key of the prometheus-node-exporter subchart",
        # default {}: Kubernetes ResourceRequirements, copied into the operator's pods as they are
        "prometheusOperator.resources.requests": "ResourceRequirements field; default is an empty map",
        "prometheusOperator.resources.limits": "ResourceRequirements field; default is an empty map",
        "prometheusOperator.admissionWebhooks.patch.resources.requests": "ResourceRequirements field; default {}",
        "prometheusOperator.admissionWebhooks.patch.resources.limits": "ResourceRequirements field; default {}",
    },
    "loki": {
        # default {}: Loki's schema_config, passed through to Loki's config file
        "loki.schemaConfig": "Loki schema_config; default is an empty map",
        # default {}: Loki's compactor block, passed through to Loki's config file
        "loki.compactor": "Loki compactor config; default is an empty map",
        # limits_config is Loki's free-form limits block (schema: skipProperties/additionalProperties)
        "loki.limits_config.retention_period": "Loki limits_config key; the block is free-form",
    },
    "fluent-bit": {
        # default {} (the chart only shows them commented out): Kubernetes PodSecurityContext,
        # SecurityContext and ResourceRequirements, copied into the DaemonSet as they are
        "podSecurityContext.seccompProfile": "Kubernetes PodSecurityContext field; default is an empty map",
        "securityContext.readOnlyRootFilesystem": "Kubernetes SecurityContext field; default is an empty map",
        "securityContext.allowPrivilegeEscalation": "Kubernetes SecurityContext field; default is an empty map",
        "securityContext.capabilities": "Kubernetes SecurityContext field; default is an empty map",
        "resources.requests": "Kubernetes ResourceRequirements field; default is an empty map",
        "resources.limits": "Kubernetes ResourceRequirements field; default is an empty map",
    },
    "deepflow": {},
}

# Subcharts whose values.yaml we also have: their section in the parent is checked against
# the parent's section first, then the subchart's own defaults.
SUBCHART_DEFAULTS = {"deepflow": {"deepflow-agent": "deepflow-agent-7.1.002.values.yaml"}}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "map"
    return "null"


def walk(
    ours: dict[str, Any], defaults: dict[str, Any], exceptions: dict[str, str], prefix: str = ""
) -> tuple[list[str], set[str]]:
    """Problems with our values, and the exceptions that were used."""
    problems: list[str] = []
    used: set[str] = set()
    for key, value in ours.items():
        path = f"{prefix}{key}"
        if path in exceptions:
            used.add(path)
            continue
        if key not in defaults:
            problems.append(
                f"{path}: not a key of the chart's values.yaml (value {value!r}); fix the spelling, or "
                "add the path to EXCEPTIONS with the reason if it is a free-form map entry"
            )
            continue
        default = defaults[key]
        if isinstance(value, dict) and isinstance(default, dict):
            sub_problems, sub_used = walk(value, default, exceptions, f"{path}.")
            problems += sub_problems
            used |= sub_used
        elif default is not None and _kind(value) != _kind(default):
            problems.append(
                f"{path}: we set a {_kind(value)} ({value!r}) where the chart's default is a "
                f"{_kind(default)} ({default!r}); use the chart's type"
            )
    return problems, used


@functools.cache
def chart_defaults(chart: charts.Chart) -> dict[str, Any]:
    # cached: kube-prometheus-stack's values.yaml is 6000 lines; callers never mutate the result
    path = require_shared(f"reference/helm-values/{chart.name}-{chart.version}.values.yaml")
    defaults = yaml.safe_load(path.read_text())
    for section, file_name in SUBCHART_DEFAULTS.get(chart.name, {}).items():
        sub = yaml.safe_load(require_shared(f"reference/helm-values/{file_name}").read_text())
        defaults[section] = charts.deep_merge(sub, defaults.get(section) or {})
    return defaults


def computed_values(enable_storage: bool = True) -> dict[str, dict[str, Any]]:
    """The values the component passes, with every optional branch switched on."""
    args = ObservabilityStackArgs(prometheus_storage_size="50Gi" if enable_storage else None)
    return {
        "kube-prometheus-stack": charts.kube_prometheus_stack_values(
            NAMES,
            "monitoring",
            scrape_interval=args.scrape_interval,
            evaluation_interval=args.evaluation_interval,
            retention=args.metrics_retention,
            storage_size=args.prometheus_storage_size,
            loki_enabled=True,
        ),
        "loki": charts.loki_values(NAMES, args.log_retention_hours, args.loki_storage_size),
        "fluent-bit": charts.fluent_bit_values(NAMES, "monitoring"),
        "deepflow": charts.deepflow_values(NAMES),
    }


CHARTS = {c.name: c for c in (charts.KUBE_PROMETHEUS_STACK, charts.LOKI, charts.FLUENT_BIT, charts.DEEPFLOW)}


@pytest.mark.parametrize("chart_name", sorted(CHARTS))
def test_every_value_we_set_exists_in_the_chart(chart_name: str) -> None:
    chart = CHARTS[chart_name]
    problems, used = walk(computed_values()[chart_name], chart_defaults(chart), EXCEPTIONS[chart_name])
    assert not problems, f"{chart.name} {chart.version}:\n" + "\n".join(problems)
    stale = set(EXCEPTIONS[chart_name]) - used
    assert not stale, f"EXCEPTIONS for {chart_name} lists paths we no longer set: {sorted(stale)}"


def test_walk_reports_a_misspelled_key_and_a_wrong_type() -> None:
    """The checker must fail on the mistakes it exists for."""
    defaults = {"prometheus": {"prometheusSpec": {"retention": "10d", "replicas": 1}}}
    ours = {"prometheus": {"prometheusSpec": {"retension": "15d", "replicas": "2"}}}
    problems, _ = walk(ours, defaults, {})
    assert problems == [
        "prometheus.prometheusSpec.retension: not a key of the chart's values.yaml (value '15d'); fix the "
        "spelling, or add the path to EXCEPTIONS with the reason if it is a free-form map entry",
        "prometheus.prometheusSpec.replicas: we set a string ('2') where the chart's default is a "
        "number (1); use the chart's type",
    ]


def test_exception_defaults_are_really_free_form_maps() -> None:
    """An exception is only allowed where the chart's default is an (empty) map or a free-form block."""
    for chart_name, exceptions in EXCEPTIONS.items():
        defaults = chart_defaults(CHARTS[chart_name])
        for path in exceptions:
            *parents, leaf = path.split(".")
            node: Any = defaults
            for part in parents:
                node = node.get(part) if isinstance(node, dict) else None
            if path.startswith("kube-state-metrics."):
                assert isinstance(node, dict), f"{chart_name}: parent of {path} must be a subchart section"
                continue
            assert isinstance(node, dict), f"{chart_name}: parent of {path} must be a map in the defaults"
            assert leaf not in node or node[leaf] == {}, (
                f"{chart_name}: {path} has a non-empty default {node[leaf]!r}; "
                "walk it instead of excepting it"
            )


def test_loki_values_pass_the_chart_schema() -> None:
    schema = yaml.safe_load(
        require_shared("reference/helm-values/loki-18.11.0.values.schema.json").read_text()
    )
    validator = jsonschema.Draft7Validator(schema)
    merged = charts.deep_merge(chart_defaults(charts.LOKI), computed_values()["loki"])
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(merged)]
    assert not errors, "\n".join(errors)


def test_loki_schema_check_catches_a_bad_type() -> None:
    schema = yaml.safe_load(
        require_shared("reference/helm-values/loki-18.11.0.values.schema.json").read_text()
    )
    bad = charts.deep_merge(computed_values()["loki"], {"loki": {"auth_enabled": "no"}})
    assert list(jsonschema.Draft7Validator(schema).iter_errors(bad)), (
        "the schema must reject auth_enabled: 'no'"
    )


def test_selectors_pick_up_objects_from_every_release() -> None:
    spec = computed_values()["kube-prometheus-stack"]["prometheus"]["prometheusSpec"]
    for kind in ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False, kind
    sidecar = computed_values()["kube-prometheus-stack"]["grafana"]["sidecar"]["dashboards"]
    assert sidecar == {
        "enabled": True,
        "label": "grafana_dashboard",
        "labelValue": "1",
        "searchNamespace": "ALL",
    }


def test_fluent_bit_ships_to_this_instances_loki() -> None:
    values = computed_values()["fluent-bit"]
    env = {e["name"]: e["value"] for e in values["env"]}
    assert env == {"LOKI_HOST": "obs-loki.monitoring.svc", "LOKI_PORT": "3100"}
    assert "Name loki" in values["config"]["outputs"]
    assert "${LOKI_HOST}" in values["config"]["outputs"]
    assert computed_values()["loki"]["fullnameOverride"] == NAMES.loki


def test_values_files_have_no_secrets() -> None:
    folder = Path(charts.__file__).parent / "values"
    for path in folder.glob("*.yaml"):
        assert "password" not in path.read_text().lower().replace("passwordkey", ""), path


def loki_render_failures(values: dict[str, Any]) -> list[str]:
    """The replica rules of the Loki chart's templates/validate.yaml (grafana-community/helm-charts,
    tag loki-18.11.0), which make `helm template` fail before rendering anything."""
    replicas = {
        name: int((values.get(name) or {}).get("replicas") or 0)
        for name in (
            "singleBinary",
            "backend",
            "read",
            "write",
            "ingester",
            "distributor",
            "querier",
            "queryFrontend",
            "queryScheduler",
            "indexGateway",
            "compactor",
            "ruler",
        )
    }
    filesystem = values["loki"]["storage"]["type"] == "filesystem"
    scalable = any(replicas[n] > 0 for n in ("backend", "read", "write"))
    distributed = any(
        replicas[n] > 0 for n in replicas if n not in ("singleBinary", "backend", "read", "write")
    )
    mode = values.get("deploymentMode")
    failures = []
    if filesystem and replicas["singleBinary"] > 1:
        failures.append("more than 1 Monolithic replica without object storage")
    if filesystem and replicas["singleBinary"] == 0 and (scalable or distributed):
        failures.append("scalable or distributed targets without object storage")
    if replicas["singleBinary"] > 0 and distributed:
        failures.append("replicas for both the monolithic and distributed targets")
    if (
        replicas["singleBinary"] > 0
        and scalable
        and mode not in ("Monolithic<->SimpleScalable", "SingleBinary<->SimpleScalable")
    ):
        failures.append(
            "more than zero replicas configured for both the monolithic and simple scalable targets"
        )
    if values.get("minio", {}).get("enabled") and not values.get("ignoreMinioDeprecation"):
        failures.append("built-in MinIO is deprecated")
    if not values["lokiCanary"]["enabled"] and values["test"]["enabled"]:
        failures.append("Helm test requires the Loki Canary")
    return failures


def test_loki_values_pass_the_charts_own_render_checks() -> None:
    merged = charts.deep_merge(chart_defaults(charts.LOKI), computed_values()["loki"])
    assert loki_render_failures(merged) == []
    assert merged["singleBinary"]["replicas"] == 1


def test_loki_render_checks_catch_the_default_scalable_replicas() -> None:
    """Regression: singleBinary on with backend/read/write left at the chart's 3 replicas."""
    merged = charts.deep_merge(chart_defaults(charts.LOKI), computed_values()["loki"])
    broken = charts.deep_merge(
        merged, {"backend": {"replicas": 3}, "read": {"replicas": 3}, "write": {"replicas": 3}}
    )
    assert loki_render_failures(broken) == [
        "more than zero replicas configured for both the monolithic and simple scalable targets"
    ]
