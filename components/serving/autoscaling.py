"""The autoscaling policy of one model, as one frozen spec, and the KEDA ScaledObject rendered from it.

Pure Python (no Pulumi): the serving component renders the ScaledObject from an
`AutoscalingSpec`, and the trace replay can take the very same object, so the policy that is
scored is the policy that runs. Every number the ScaledObject carries comes from a field of
the spec (a test walks the rendered object to prove it); the fields that are not rendered
(the HPA's sync period, the scrape and rule intervals) are the cluster's own timings that the
replay needs to simulate the same loop.

The decision the cluster takes (KEDA feeding the HPA) is the maximum over the triggers:

- reactive: requests in flight (running + waiting) across the model's replicas, AverageValue
  target `target x working_batch` per replica;
- predictive: the recorded forecast of busy replicas one start-up ahead
  (`llmops:replica_demand:forecast`), AverageValue target `target` per replica;
- cron windows: at least `replicas` replicas inside each window.

`desired_replicas()` is the same arithmetic in Python (the HPA's external-metric rule with its
tolerance), for the replay and for the tests that compare it with a real Prometheus.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from components.capacity.promql import FORECAST_RECORD, RULE_INTERVAL_S

KEDA_API_VERSION = "keda.sh/v1alpha1"
DEFAULT_TARGET = 0.8
DEFAULT_SCALE_DOWN_WINDOW_S = 300
"""The HPA's own default scale-down stabilisation (300 s)."""
HPA_TOLERANCE = 0.1
"""The HPA's default tolerance: no change while metric/target is within 10 %."""
HPA_SYNC_PERIOD_S = 15
"""kube-controller-manager's --horizontal-pod-autoscaler-sync-period default (K3s keeps it)."""
KEDA_POLLING_INTERVAL_S = 15
SCALE_UP_PERIOD_S = 15
"""Period of the scale-up and scale-down rate policies (the HPA's default 15 s)."""

# 'HH:MM' within one day; 24:00 is the end of the day.
_CLOCK = re.compile(r"^([0-9]{1,2}):([0-9]{2})$")
# Cron day-of-week field as KEDA's cron scaler (robfig/cron) reads it.
_DAYS = re.compile(r"^(\*|[0-7](-[0-7])?(,[0-7](-[0-7])?)*)$")


def clock_minutes(text: str) -> int | None:
    """Minutes after midnight of 'HH:MM' (00:00 to 24:00), or None when it is not a time of day."""
    match = _CLOCK.match(text)
    if not match:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    total = hours * 60 + minutes
    if minutes > 59 or total > 24 * 60:
        return None
    return total


def valid_days(text: str) -> bool:
    return bool(_DAYS.match(text))


@dataclass(frozen=True)
class CronWindow:
    """At least `replicas` replicas from `start` to `end` (local time in `timezone`) on `days`."""

    name: str
    start: str
    """'HH:MM', e.g. '08:00'."""
    end: str
    """'HH:MM' after start, e.g. '19:00'; '24:00' is midnight at the end of the day."""
    replicas: int
    timezone: str = "UTC"
    """IANA time zone, e.g. 'Europe/Berlin'."""
    days: str = "*"
    """Cron day-of-week field: '*' every day, '1-5' Monday to Friday."""

    def cron(self, clock: str) -> str:
        minutes = clock_minutes(clock)
        if minutes is None:
            raise ValueError(f"{clock!r} is not a time of day 'HH:MM'")
        if minutes == 24 * 60:
            # Cron has no 24:00; the last minute of the day ends the window.
            return f"59 23 * * {self.days}"
        return f"{minutes % 60} {minutes // 60} * * {self.days}"


@dataclass(frozen=True)
class AutoscalingSpec:
    """Every parameter of one model's autoscaling: what the ScaledObject renders and the replay needs."""

    min_replicas: int = 1
    """KEDA minReplicaCount; at least 1: the reactive signal comes from the replicas themselves."""
    max_replicas: int = 2
    """KEDA maxReplicaCount: the ceiling the cost estimate prices."""
    target: float = DEFAULT_TARGET
    """Target utilisation: busy share of a replica's working batch (reactive) and of a replica
    (predictive) the HPA aims at."""
    working_batch: int = 1
    """Concurrent sequences one replica serves within the ITL SLO (capacity model)."""
    predictive: bool = True
    """Add the forecast trigger (needs the model's recorded forecast, i.e. observability)."""
    windows: tuple[CronWindow, ...] = ()
    scale_down_window_s: int = DEFAULT_SCALE_DOWN_WINDOW_S
    """HPA scale-down stabilisation: the largest recommendation of this window is kept."""
    tolerance: float = HPA_TOLERANCE
    polling_interval_s: int = KEDA_POLLING_INTERVAL_S
    """KEDA pollingInterval (how often KEDA checks the triggers' activity)."""
    scale_up_period_s: int = SCALE_UP_PERIOD_S
    """Period of the rate policies; scale-up may reach maxReplicas within one period (immediate)."""
    hpa_sync_period_s: int = HPA_SYNC_PERIOD_S
    """Not rendered: the HPA controller's loop period, which the replay simulates."""
    scrape_interval_s: float = 2.0
    """Not rendered: how often Prometheus scrapes the replicas (the reactive signal's lag)."""
    rule_interval_s: int = RULE_INTERVAL_S
    """Not rendered: evaluation interval of the forecast rule (the predictive signal's lag)."""
    prometheus_url: str = "http://prometheus.monitoring.svc:9090"
    """Prometheus the triggers query."""
    served_model_name: str = ""
    """model_name label vLLM puts on its metrics (the forecast is recorded per model_name)."""

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))

    def problems(self) -> list[str]:
        out = []
        if self.min_replicas < 1:
            out.append(f"min_replicas: {self.min_replicas} is below 1")
        if self.max_replicas < self.min_replicas:
            out.append(f"max_replicas: {self.max_replicas} is below min_replicas {self.min_replicas}")
        if not 0 < self.target <= 1:
            out.append(f"target: {self.target} is not in (0, 1]")
        if self.working_batch < 1:
            out.append(f"working_batch: {self.working_batch} is below 1")
        if not 0 <= self.scale_down_window_s <= 3600:
            out.append(
                f"scale_down_window_s: {self.scale_down_window_s} is outside 0..3600 (the HPA's range)"
            )
        for window in self.windows:
            if window.replicas > self.max_replicas:
                out.append(
                    f"windows.{window.name}.replicas: {window.replicas} is above "
                    f"max_replicas {self.max_replicas}"
                )
        return out

    @property
    def reactive_threshold(self) -> float:
        """Requests in flight per replica the reactive trigger aims at."""
        return self.target * self.working_batch

    @property
    def predictive_threshold(self) -> float:
        """Forecast busy replicas per replica the predictive trigger aims at."""
        return self.target


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


# --------------------------------------------------------------------------- the HPA's arithmetic


def average_value_replicas(current: int, total: float, per_replica: float, tolerance: float) -> int:
    """The HPA's rule for an external AverageValue metric (replica_calculator.go,
    GetExternalPerPodMetricReplicas): keep `current` while total / (per_replica x current) is
    within the tolerance of 1, else ceil(total / per_replica)."""
    if current > 0:
        ratio = total / (per_replica * current)
        if abs(1.0 - ratio) <= tolerance:
            return current
    return math.ceil(total / per_replica - 1e-9)


@dataclass(frozen=True)
class TriggerValues:
    """What the triggers read at one instant."""

    in_flight: float
    """Requests running + waiting across the replicas (the reactive query)."""
    forecast: float | None = None
    """Forecast busy replicas (the predictive query); None when there is no series."""
    active_windows: Sequence[str] = field(default_factory=tuple)
    """Names of the cron windows that are open."""


def recommendations(spec: AutoscalingSpec, current: int, values: TriggerValues) -> dict[str, int]:
    """Each trigger's replica recommendation before the min/max clamp."""
    out = {
        "reactive": average_value_replicas(current, values.in_flight, spec.reactive_threshold, spec.tolerance)
    }
    if spec.predictive:
        # ignoreNullValues: a missing forecast reads as zero.
        out["predictive"] = average_value_replicas(
            current, values.forecast or 0.0, spec.predictive_threshold, spec.tolerance
        )
    open_windows = set(values.active_windows)
    for window in spec.windows:
        # KEDA's cron scaler: desiredReplicas inside the window, nothing outside it.
        out[f"window-{window.name}"] = window.replicas if window.name in open_windows else 0
    return out


def desired_replicas(spec: AutoscalingSpec, current: int, values: TriggerValues) -> int:
    """The HPA's recommendation: the largest trigger's, clamped to min/max (before stabilisation)."""
    wanted = max(recommendations(spec, current, values).values())
    return min(spec.max_replicas, max(spec.min_replicas, wanted))
