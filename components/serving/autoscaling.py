"""The KEDA ScaledObject of one model, rendered from its `AutoscalingSpec`.

Pure Python (no Pulumi): the serving component renders the ScaledObject from an
`AutoscalingSpec` (components/capacity/scaling.py, with the HPA's arithmetic), and the trace
replay's `deployed` policy takes the very same object, so the policy that is scored is the policy
that runs. Every number the ScaledObject carries comes from a field of the spec (a test walks the
rendered object to prove it, and another compares the plan's object with the replay's parameters);
the fields that are not rendered (the HPA's sync period, the scrape and rule intervals) are the
cluster's own timings that the replay needs to simulate the same loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmops.components.capacity.promql import FORECAST_RECORD
from llmops.components.capacity.scaling import (
    DEFAULT_SCALE_DOWN_WINDOW_S,
    DEFAULT_TARGET,
    HPA_SYNC_PERIOD_S,
    HPA_TOLERANCE,
    KEDA_POLLING_INTERVAL_S,
    SCALE_UP_PERIOD_S,
    AutoscalingSpec,
    CronWindow,
    TriggerValues,
    average_value_replicas,
    clock_minutes,
    desired_replicas,
    recommendations,
    valid_days,
)

__all__ = [
    "DEFAULT_SCALE_DOWN_WINDOW_S",
    "DEFAULT_TARGET",
    "HPA_SYNC_PERIOD_S",
    "HPA_TOLERANCE",
    "KEDA_API_VERSION",
    "KEDA_POLLING_INTERVAL_S",
    "SCALE_UP_PERIOD_S",
    "AutoscalingSpec",
    "CronWindow",
    "TriggerValues",
    "average_value_replicas",
    "clock_minutes",
    "desired_replicas",
    "predictive_query",
    "reactive_query",
    "recommendations",
    "scaled_object",
    "scaled_object_spec",
    "triggers",
    "valid_days",
]

KEDA_API_VERSION = "keda.sh/v1alpha1"


def _number(value: float) -> str:
    """A trigger threshold as KEDA parses it (a decimal, no exponent)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def reactive_query(namespace: str, model: str) -> str:
    """Requests running plus waiting across the model's replicas (labels from its ServiceMonitor)."""
    selector = f'{{job="vllm", namespace="{namespace}", llmops_model="{model}"}}'
    return f"sum(vllm:num_requests_running{selector}) + sum(vllm:num_requests_waiting{selector})"


def predictive_query(served_model_name: str) -> str:
    """The model's recorded forecast of busy replicas (components/capacity/rules/forecast.promql)."""
    return f'sum({FORECAST_RECORD}{{model_name="{served_model_name}"}})'


def triggers(spec: AutoscalingSpec, name: str, namespace: str) -> list[dict[str, Any]]:
    """The ScaledObject's triggers; KEDA hands them to the HPA, which takes their maximum."""
    out: list[dict[str, Any]] = [
        {
            "type": "prometheus",
            "name": "reactive",
            "metricType": "AverageValue",
            "metadata": {
                "serverAddress": spec.prometheus_url,
                "query": reactive_query(namespace, name),
                "threshold": _number(spec.reactive_threshold),
                # No series (a replica not scraped yet) reads as zero load, never as an error
                # that would freeze the HPA.
                "ignoreNullValues": "true",
            },
        }
    ]
    if spec.predictive:
        out.append(
            {
                "type": "prometheus",
                "name": "predictive",
                "metricType": "AverageValue",
                "metadata": {
                    "serverAddress": spec.prometheus_url,
                    "query": predictive_query(spec.served_model_name),
                    "threshold": _number(spec.predictive_threshold),
                    "ignoreNullValues": "true",
                },
            }
        )
    for window in spec.windows:
        out.append(
            {
                "type": "cron",
                "name": f"window-{window.name}",
                "metadata": {
                    "timezone": window.timezone,
                    "start": window.cron(window.start),
                    "end": window.cron(window.end),
                    "desiredReplicas": str(window.replicas),
                },
            }
        )
    return out


def scaled_object(
    spec: AutoscalingSpec, name: str, namespace: str, labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The KEDA ScaledObject scaling Deployment `name` in `namespace` (a full manifest)."""
    return {
        "apiVersion": KEDA_API_VERSION,
        "kind": "ScaledObject",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
        "spec": scaled_object_spec(spec, name, namespace),
    }


def scaled_object_spec(spec: AutoscalingSpec, name: str, namespace: str) -> dict[str, Any]:
    return {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "minReplicaCount": spec.min_replicas,
        "maxReplicaCount": spec.max_replicas,
        "pollingInterval": spec.polling_interval_s,
        # Only governs scaling to zero, which min_replicas >= 1 rules out; kept equal to the
        # scale-down window so the two cannot be read as different policies.
        "cooldownPeriod": spec.scale_down_window_s,
        "advanced": {
            "restoreToOriginalReplicaCount": False,
            "horizontalPodAutoscalerConfig": {
                "name": f"keda-hpa-{name}",
                "behavior": {
                    # Scale-up is immediate: no stabilisation, and one period may add every
                    # replica up to the maximum (start-up takes minutes; waiting costs SLO).
                    "scaleUp": {
                        "stabilizationWindowSeconds": 0,
                        "selectPolicy": "Max",
                        "tolerance": _number(spec.tolerance),
                        "policies": [
                            {
                                "type": "Pods",
                                "value": spec.max_replicas,
                                "periodSeconds": spec.scale_up_period_s,
                            }
                        ],
                    },
                    # Scale-down keeps the largest recommendation of the window, then may
                    # remove any number of replicas at once.
                    "scaleDown": {
                        "stabilizationWindowSeconds": spec.scale_down_window_s,
                        "selectPolicy": "Max",
                        "tolerance": _number(spec.tolerance),
                        "policies": [
                            {"type": "Percent", "value": 100, "periodSeconds": spec.scale_up_period_s}
                        ],
                    },
                },
            },
        },
        "triggers": triggers(spec, name, namespace),
    }
