"""Prometheus-operator objects (ServiceMonitor, PrometheusRule) as plain dicts.

Pure Python: monitors.py wraps these in Pulumi custom resources; tests validate them
against the CRD schemas. The PromQL itself lives in rules/*.rules.yaml.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

import yaml
from llmops.components.errors import Problem, field_path, raise_if

MONITORING_API_VERSION = "monitoring.coreos.com/v1"

# Rule files shipped with the stack, in the order their groups appear in the PrometheusRule.
RULE_FILES = ("vllm.rules.yaml", "gpu.rules.yaml", "node.rules.yaml", "cost.rules.yaml")

# The job label every vLLM target gets, whatever its Service is called: the alert rules and
# dashboards select vLLM series with job="vllm".
VLLM_JOB = "vllm"

# Prometheus duration (what prometheus-operator's CRDs accept).
_DURATION = re.compile(
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)
_LABEL_VALUE_SAFE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def is_duration(value: str) -> bool:
    return bool(value) and value != "" and _DURATION.match(value) is not None


def scrape_problems(
    interval: str, scrape_timeout: str | None = None, *, path: str = "", keys: Mapping[str, str] | None = None
) -> list[Problem]:
    """Problems of a scrape interval and timeout; `keys` maps the two names to the caller's keys."""
    keys = keys or {}
    problems: list[Problem] = []
    if not isinstance(interval, str) or not is_duration(interval) or duration_seconds(interval) <= 0:
        problems.append(
            Problem(
                field_path(path, keys, "interval"),
                interval,
                "is not a Prometheus duration",
                "write it like '2s', '500ms' or '1m'",
            )
        )
    if scrape_timeout is None:
        return problems  # the timeout is the interval: one problem is enough
    if not is_duration(scrape_timeout):
        problems.append(
            Problem(
                field_path(path, keys, "scrape_timeout"),
                scrape_timeout,
                "is not a Prometheus duration",
                "write it like '2s'",
            )
        )
    elif not problems and duration_seconds(scrape_timeout) > duration_seconds(interval):
        problems.append(
            Problem(
                field_path(path, keys, "scrape_timeout"),
                scrape_timeout,
                f"is longer than the interval {interval!r}, which Prometheus rejects",
                "use a timeout <= the interval",
            )
        )
    return problems


def duration_seconds(value: str) -> float:
    """Seconds in a Prometheus duration like "1m30s" (raises ValueError for anything else)."""
    if not is_duration(value):
        raise ValueError(f"{value!r} is not a Prometheus duration like 2s, 1m30s or 15d")
    units = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+)(ms|y|w|d|h|m|s)", value))


def load_rule_file(file_name: str) -> list[dict[str, Any]]:
    """The groups of one rule file under rules/ (Prometheus rule-file format)."""
    text = (
        resources.files("llmops.components.observability")
        .joinpath("rules", file_name)
        .read_text(encoding="utf-8")
    )
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("groups"), list):
        raise ValueError(f"rules/{file_name}: expected a mapping with a 'groups' list")
    return data["groups"]


def gpu_price_group(gpu_price_per_hour: Mapping[str, float]) -> dict[str, Any]:
    """Recording rules that put the stack's GPU prices into Prometheus, one series per pool.

    `llmops:gpu_price_usd_per_hour{pool="<pool>"}` is what cost.rules.yaml and the cost
    dashboard multiply GPU counts with; keeping prices in Prometheus (not in the dashboard)
    lets PromQL join them per pool.
    """
    rules = [
        {
            "record": "llmops:gpu_price_usd_per_hour",
            "expr": f"vector({price!r})",
            "labels": {"pool": pool},
        }
        for pool, price in sorted(gpu_price_per_hour.items())
    ]
    return {"name": "llmops-gpu-prices", "rules": rules}


def validate_gpu_prices(gpu_price_per_hour: Mapping[str, float], key: str) -> list[str]:
    """Problems with a pool -> USD per GPU-hour map, each naming the key path, value and fix."""
    problems: list[str] = []
    for pool, price in gpu_price_per_hour.items():
        where = f"{key}[{pool!r}]"
        if not isinstance(pool, str) or not _LABEL_VALUE_SAFE.match(pool):
            problems.append(
                f"{where}: pool name {pool!r} must be letters, digits, '-', '_' or '.' "
                "(it becomes a Prometheus label value); use the node pool's name"
            )
        if isinstance(price, bool) or not isinstance(price, int | float) or not math.isfinite(price):
            problems.append(
                f"{where}: {price!r} is not a number; give the price in USD per GPU-hour, e.g. 2.5"
            )
        elif price < 0:
            problems.append(f"{where}: {price!r} is negative; give the price in USD per GPU-hour, e.g. 2.5")
    return problems


def alert_rule_groups(gpu_price_per_hour: Mapping[str, float] | None = None) -> list[dict[str, Any]]:
    """Every rule group the stack ships: the rule files, plus the price group when prices are set."""
    groups = [group for file_name in RULE_FILES for group in load_rule_file(file_name)]
    if gpu_price_per_hour:
        groups.append(gpu_price_group(gpu_price_per_hour))
    return groups


def prometheus_rule_manifest(
    name: str, namespace: str, groups: list[dict[str, Any]], labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": MONITORING_API_VERSION,
        "kind": "PrometheusRule",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
        "spec": {"groups": groups},
    }


def vllm_service_monitor_manifest(
    name: str,
    namespace: str,
    selector_labels: Mapping[str, str],
    port: str = "http",
    interval: str = "2s",
    scrape_timeout: str | None = None,
) -> dict[str, Any]:
    """A ServiceMonitor that scrapes a VllmModel's Service on its named port.

    Why 2 s: the hung-engine alert needs a few samples inside an 8 s window and the dead
    replica alert must fire within 5 s, which a 15-30 s scrape cannot do. Load: a vLLM 0.33
    engine always exports 17 counters, 6 gauges and 16 histograms (metrics.txt); with their
    label fan-out and ~20 buckets per histogram that is ~360 vllm: series, plus ~150
    HTTP/process series: ~500 series, or ~250 samples/s per replica at 2 s (the `_created`
    series are dropped below). 100 replicas are ~25k samples/s, a small fraction of what one
    Prometheus ingests (hundreds of thousands per second per core are routinely reported) and
    ~2.8 GB/day at ~1.3 bytes/sample; head memory scales with series, not with the interval.
    """
    problems = scrape_problems(interval, scrape_timeout)
    timeout = scrape_timeout or interval
    if not selector_labels:
        problems.append(
            Problem(
                "selector_labels",
                {},
                "is empty",
                "give the Service's labels, e.g. {'llmops.io/model': name}",
            )
        )
    raise_if(f"ServiceMonitor {name!r}", problems)
    return {
        "apiVersion": MONITORING_API_VERSION,
        "kind": "ServiceMonitor",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "llmops", "app.kubernetes.io/component": "metrics"},
        },
        "spec": {
            "selector": {"matchLabels": dict(selector_labels)},
            "namespaceSelector": {"matchNames": [namespace]},
            "endpoints": [
                {
                    "port": port,
                    "path": "/metrics",
                    "interval": interval,
                    "scrapeTimeout": timeout,
                    "relabelings": [
                        # One job for every model so rules and dashboards need not know Service names.
                        {"action": "replace", "targetLabel": "job", "replacement": VLLM_JOB},
                        {
                            "action": "replace",
                            "sourceLabels": ["__meta_kubernetes_pod_label_llmops_io_model"],
                            "targetLabel": "llmops_model",
                        },
                        # The node joins vLLM series to node pools (llmops:node_pool:info) for
                        # per-pool dashboards and cost.
                        {
                            "action": "replace",
                            "sourceLabels": ["__meta_kubernetes_pod_node_name"],
                            "targetLabel": "node",
                        },
                    ],
                    "metricRelabelings": [
                        # prometheus_client's *_created series carry a constant timestamp per
                        # series; nothing reads them and they add ~10% of the samples.
                        {"action": "drop", "sourceLabels": ["__name__"], "regex": "vllm:.+_created"},
                    ],
                }
            ],
        },
    }
