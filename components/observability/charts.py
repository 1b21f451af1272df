"""Pinned Helm charts of the observability stack and the values we give them.

Pure Python (no Pulumi): the values files next to this module are merged with values
computed from the stack's settings, so tests can check the result against each chart's
own values.yaml without a Pulumi engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmops.components.addons.charts import (
    DEEPFLOW,
    FLUENT_BIT,
    KUBE_PROMETHEUS_STACK,
    LOKI,
    Chart,
    deep_merge,
    load_values,
)

__all__ = ["DEEPFLOW", "FLUENT_BIT", "KUBE_PROMETHEUS_STACK", "LOKI", "Chart", "deep_merge", "load_values"]


LOKI_HTTP_PORT = 3100
PROMETHEUS_PORT = 9090


@dataclass(frozen=True)
class ReleaseNames:
    """Helm release names of one ObservabilityStack instance; also its Kubernetes object prefixes."""

    kube_prometheus_stack: str
    loki: str
    fluent_bit: str
    deepflow: str
    grafana_admin_secret: str

    @classmethod
    def for_instance(cls, name: str) -> ReleaseNames:
        return cls(
            kube_prometheus_stack=f"{name}-kps",
            loki=f"{name}-loki",
            fluent_bit=f"{name}-logs",
            deepflow=f"{name}-deepflow",
            grafana_admin_secret=f"{name}-grafana-admin",
        )

    # kube-prometheus-stack's fullnameOverride is its release name, so its services are
    # named after it; the Grafana subchart appends "-grafana".
    @property
    def grafana_service(self) -> str:
        return f"{self.kube_prometheus_stack}-grafana"

    @property
    def prometheus_service(self) -> str:
        return f"{self.kube_prometheus_stack}-prometheus"


def kube_prometheus_stack_values(
    names: ReleaseNames,
    namespace: str,
    scrape_interval: str,
    evaluation_interval: str,
    retention: str,
    storage_size: str | None,
    loki_enabled: bool,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "scrapeInterval": scrape_interval,
        "evaluationInterval": evaluation_interval,
        "retention": retention,
    }
    if storage_size:
        spec["storageSpec"] = {
            "volumeClaimTemplate": {
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": storage_size}},
                }
            }
        }
    grafana: dict[str, Any] = {
        # The password lives in a Kubernetes Secret the component creates, never in Helm values
        # (values are stored in the release's own Secret and shown by `helm get values`).
        "admin": {
            "existingSecret": names.grafana_admin_secret,
            "userKey": "admin-user",
            "passwordKey": "admin-password",
        },
    }
    if loki_enabled:
        grafana["additionalDataSources"] = [
            {
                "name": "Loki",
                "uid": "loki",
                "type": "loki",
                "access": "proxy",
                "url": f"http://{names.loki}.{namespace}.svc:{LOKI_HTTP_PORT}",
            }
        ]
    computed = {
        "fullnameOverride": names.kube_prometheus_stack,
        "prometheus": {"prometheusSpec": spec},
        "grafana": grafana,
    }
    return deep_merge(load_values(KUBE_PROMETHEUS_STACK), computed)


def loki_values(names: ReleaseNames, retention_hours: int, storage_size: str) -> dict[str, Any]:
    computed = {
        "fullnameOverride": names.loki,
        "loki": {"limits_config": {"retention_period": f"{retention_hours}h"}},
        "singleBinary": {"persistence": {"size": storage_size}},
    }
    return deep_merge(load_values(LOKI), computed)


def fluent_bit_values(names: ReleaseNames, namespace: str) -> dict[str, Any]:
    computed = {
        "fullnameOverride": names.fluent_bit,
        "env": [
            {"name": "LOKI_HOST", "value": f"{names.loki}.{namespace}.svc"},
            {"name": "LOKI_PORT", "value": str(LOKI_HTTP_PORT)},
        ],
    }
    return deep_merge(load_values(FLUENT_BIT), computed)


def deepflow_values(names: ReleaseNames) -> dict[str, Any]:
    return deep_merge(load_values(DEEPFLOW), {"fullnameOverride": names.deepflow})
