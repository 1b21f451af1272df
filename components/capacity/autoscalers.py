"""Parameters of the reactive autoscalers the replay compares against, with where each comes from.

`hpa` is a plain HPA on requests in flight with the Kubernetes defaults; its tolerance, sync period
and scale-down window are the same constants (components/capacity/scaling.py) the deployed
ScaledObject defaults to. The deployed policy itself (all triggers, the stack's own numbers) is the
replay's `deployed`, which reads an `AutoscalingSpec`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from llmops.components.capacity.scaling import DEFAULT_SCALE_DOWN_WINDOW_S, HPA_SYNC_PERIOD_S, HPA_TOLERANCE


@dataclass(frozen=True)
class HpaParams:
    """A Kubernetes HorizontalPodAutoscaler on requests in flight per replica (vLLM's
    `vllm:num_requests_running + vllm:num_requests_waiting`), AverageValue target.

    Defaults are the HPA's own (kubernetes.io, "Horizontal Pod Autoscaling": tolerance 0.1,
    `--horizontal-pod-autoscaler-sync-period` 15 s, scale-down stabilisation window 300 s, scale-up
    window 0 with the default policy of +100 % or +4 pods per 15 s) and a target of 0.7 x the
    working batch, the headroom Knative and most HPA guides default to (70 % utilisation)."""

    target_fraction: float = 0.7
    """AverageValue target as a share of the working batch (the batch the ITL SLO allows)."""
    tolerance: float = HPA_TOLERANCE
    """No change while in-flight / (replicas x target) is within 1 +- tolerance."""
    sync_period_s: float = float(HPA_SYNC_PERIOD_S)
    """How often the controller recomputes (kube-controller-manager's default)."""
    scale_down_stabilization_s: float = float(DEFAULT_SCALE_DOWN_WINDOW_S)
    """A scale-down takes the largest recommendation of this window (behavior.scaleDown default)."""
    scale_up_percent: float = 100.0
    scale_up_pods: int = 4
    """Per sync period the size may grow by the larger of these (behavior.scaleUp default policies)."""
    metric_lag_s: float = 15.0
    """Age of the metric when the controller reads it: one Prometheus scrape interval (KEDA's
    Prometheus scaler queries the server, which holds the last scrape)."""

    def target_per_replica(self, batch: int) -> float:
        return self.target_fraction * max(batch, 1)

    def recommend(self, in_flight: float, replicas: int, batch: int) -> int:
        """The HPA's replica count for `in_flight` requests over `replicas` (AverageValue)."""
        target = self.target_per_replica(batch)
        current = max(replicas, 1)
        ratio = in_flight / (current * target)
        if abs(ratio - 1) <= self.tolerance:
            return replicas
        return math.ceil(in_flight / target - 1e-9)

    def scale_up_limit(self, replicas: int, periods: int = 1) -> int:
        size = max(replicas, 1)
        for _ in range(max(periods, 1)):
            size = max(math.floor(size * (1 + self.scale_up_percent / 100)), size + self.scale_up_pods)
        return size

    def to_json(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass(frozen=True)
class KpaParams:
    """Knative's pod autoscaler (KPA) on concurrency (knative.dev, "Configuring the autoscaler":
    stable window 60 s, panic window 10 % of it = 6 s, panic threshold 200 %, target utilisation
    70 %, tick 2 s, max scale-down rate 2, max scale-up rate 1000); the container concurrency
    target is the working batch."""

    stable_window_s: float = 60.0
    panic_window_s: float = 6.0
    panic_threshold: float = 2.0
    """Panic when the panic window's desired size reaches 200 % of the current size."""
    target_utilization: float = 0.7
    tick_s: float = 2.0
    max_scale_down_rate: float = 2.0
    """At most halve the size per tick."""
    max_scale_up_rate: float = 1000.0

    def to_json(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass(frozen=True)
class KedaWaitingParams:
    """The naive baseline: vLLM production stack's tutorial KEDA rule, AverageValue of 5 waiting
    requests per replica on `vllm:num_requests_waiting` alone (running requests ignored), with the
    HPA tolerance and the stack's 360 s stabilisation. Kept to show why running requests matter:
    when the queue empties it falls to the minimum and oscillates."""

    waiting_per_replica: float = 5.0
    tolerance: float = HPA_TOLERANCE
    scale_down_stabilization_s: float = 360.0

    def to_json(self) -> dict[str, float | int]:
        return asdict(self)
