"""Every metric the rules and dashboards query exists where it comes from.

vllm: names are checked against ../shared/reference/vllm/metrics.txt with its exposition
rules (counters get _total, histograms _bucket/_sum/_count), so a removed V0 metric or a
counter queried without _total fails here rather than as an empty panel in production.
"""

from __future__ import annotations

import pytest
import yaml
from llmops.components.capacity.promql import rule_group
from llmops.components.observability import manifests

from tests.components.observability.promql import (
    dashboard_expressions,
    exposed_vllm_names,
    metric_names,
    rule_expressions,
    substitute_grafana_variables,
)
from tests.conftest import require_shared

# The series the GPU operator's DCGM exporter serves: the operator (v26.7.0,
# assets/state-dcgm-exporter/0800_daemonset.yaml) points DCGM_EXPORTER_COLLECTORS at the image's
# /etc/dcgm-exporter/dcp-metrics-included.csv, and our values keep that list
# (tests/components/addons/test_gpu_operator.py). Names are that file's gauge and counter rows in
# NVIDIA/dcgm-exporter tag 4.5.3-4.8.2 (identical to etc/default-counters.csv there);
# DCGM_FI_DRIVER_VERSION is a `label` row, a label on the other series, not a series itself.
DCGM_DEFAULT_COUNTERS = {
    "DCGM_FI_DEV_SM_CLOCK",
    "DCGM_FI_DEV_MEM_CLOCK",
    "DCGM_FI_DEV_MEMORY_TEMP",
    "DCGM_FI_DEV_GPU_TEMP",
    "DCGM_FI_DEV_POWER_USAGE",
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
    "DCGM_FI_DEV_PCIE_REPLAY_COUNTER",
    "DCGM_FI_DEV_GPU_UTIL",
    "DCGM_FI_DEV_MEM_COPY_UTIL",
    "DCGM_FI_DEV_ENC_UTIL",
    "DCGM_FI_DEV_DEC_UTIL",
    "DCGM_FI_DEV_XID_ERRORS",
    "DCGM_FI_DEV_FB_FREE",
    "DCGM_FI_DEV_FB_USED",
    "DCGM_FI_DEV_FB_RESERVED",
    "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL",
    "DCGM_FI_DEV_VGPU_LICENSE_STATUS",
    "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
    "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS",
    "DCGM_FI_DEV_ROW_REMAP_FAILURE",
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE",
    "DCGM_FI_PROF_DRAM_ACTIVE",
    "DCGM_FI_PROF_PCIE_TX_BYTES",
    "DCGM_FI_PROF_PCIE_RX_BYTES",
}

# Other exporters' series we rely on, each with where it comes from. Anything new must be
# added here deliberately.
OTHER_SOURCES = {
    "up": "Prometheus itself, one per scrape target",
    "http_requests_total": "vLLM's prometheus-fastapi-instrumentator (metrics.txt header)",
    "kube_node_labels": "kube-state-metrics (node labels allow-listed in values/kube-prometheus-stack.yaml)",
    "kube_node_spec_taint": "kube-state-metrics",
    "kube_node_spec_unschedulable": "kube-state-metrics",
    "kube_node_status_capacity": "kube-state-metrics",
    "kube_node_status_condition": "kube-state-metrics",
    "kube_pod_container_resource_requests": "kube-state-metrics",
    "kube_deployment_status_replicas_available": "kube-state-metrics",
    "kube_horizontalpodautoscaler_status_desired_replicas": "kube-state-metrics (KEDA's HPA per model)",
    "kube_horizontalpodautoscaler_spec_max_replicas": "kube-state-metrics (KEDA's HPA per model)",
}


def all_expressions() -> list[tuple[str, str, str]]:
    return [*rule_expressions(), *dashboard_expressions()]


def recorded_names() -> set[str]:
    groups = manifests.alert_rule_groups({"p": 1.0})
    # Each model's PrometheusRule records its demand and forecast (components/capacity/promql.py).
    groups += yaml.safe_load(rule_group("m", 1e-5, 1e-4, startup_s=180))["groups"]
    return {rule["record"] for group in groups for rule in group["rules"] if "record" in rule}


def unknown_names(exprs: list[tuple[str, str, str]]) -> list[str]:
    exposed = exposed_vllm_names(require_shared("reference/vllm/metrics.txt"))
    recorded = recorded_names()
    problems = []
    for where, name, expr in exprs:
        for metric in sorted(metric_names(substitute_grafana_variables(expr))):
            if metric.startswith("vllm:"):
                ok = metric in exposed
                fix = "not exposed by vLLM 0.33 (metrics.txt; counters end in _total)"
            elif metric.startswith("DCGM_"):
                ok = metric in DCGM_DEFAULT_COUNTERS
                fix = "not one of the GPU operator exporter's default counters"
            elif metric.startswith("llmops:"):
                ok = metric in recorded
                fix = "no recording rule in rules/*.rules.yaml records it"
            else:
                ok = metric in OTHER_SOURCES
                fix = "unknown source; add it to OTHER_SOURCES with where it comes from"
            if not ok:
                problems.append(f"{where} / {name}: {metric}: {fix}")
    return problems


def test_every_metric_in_rules_and_dashboards_exists() -> None:
    problems = unknown_names(all_expressions())
    assert not problems, "\n".join(problems)


def test_the_rules_use_the_core_vllm_signals() -> None:
    used = set()
    for _, _, expr in rule_expressions():
        used |= metric_names(expr)
    for metric in (
        "vllm:num_requests_running",
        "vllm:generation_tokens_total",
        "vllm:num_requests_waiting",
        "vllm:kv_cache_usage_perc",
        "vllm:time_to_first_token_seconds_bucket",
        "DCGM_FI_DEV_XID_ERRORS",
        "DCGM_FI_DEV_GPU_UTIL",
        "kube_node_status_condition",
    ):
        assert metric in used, metric


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("vllm:gpu_cache_usage_perc > 0.9", "vllm:gpu_cache_usage_perc: not exposed by vLLM 0.33"),
        ("rate(vllm:generation_tokens[1m])", "vllm:generation_tokens: not exposed by vLLM 0.33"),
        ("vllm:num_requests_running_total", "vllm:num_requests_running_total: not exposed"),
        (
            "DCGM_FI_DEV_XID_ERROR > 0",
            "DCGM_FI_DEV_XID_ERROR: not one of the GPU operator exporter's default counters",
        ),
        ("llmops:made_up:sum", "llmops:made_up:sum: no recording rule"),
        ("node_load1", "node_load1: unknown source"),
    ],
)
def test_check_rejects_wrong_names(expr: str, expected: str) -> None:
    problems = unknown_names([("test", "case", expr)])
    assert len(problems) == 1 and expected in problems[0], problems


def test_metric_name_extraction_skips_labels_functions_and_strings() -> None:
    expr = (
        'sum by (le, llmops_model) (rate(vllm:x_bucket{job="vllm", a=~"b|up"}[5m])) '
        '* on (node) group_left (pool) llmops:y{pool=~".*"} and label_replace(z, "n", "$1", "H", "(.+)")'
    )
    assert metric_names(expr) == {"vllm:x_bucket", "llmops:y", "z"}
