"""The deployed autoscaling policy of one model: its parameters and the HPA's arithmetic.

Pure Python (no Pulumi). `AutoscalingSpec` holds every parameter of a model's KEDA ScaledObject
(components/serving/autoscaling.py renders the object from it) and `DemandRule` those of the
forecast rule its predictive trigger reads (components/capacity/promql.py renders the rule). The
trace replay's `deployed` policy takes the very same two objects and steps `HpaLoop`, the HPA's
loop over the triggers, so the policy that is scored is the policy that runs.

The decision the cluster takes (KEDA feeding the HPA) is the maximum over the triggers:

- reactive: requests in flight (running + waiting) across the model's replicas, AverageValue
  target `target x working_batch` per replica;
- predictive: the recorded forecast of busy replicas one start-up ahead
  (`llmops:replica_demand:forecast`), AverageValue target `target` per replica;
- cron windows: KEDA's cron scaler reports `replicas` inside the window and 1 outside it,
  AverageValue target 1.

Each goes through the HPA's tolerance; scale-up is immediate, scale-down keeps the largest
recommendation of the stabilisation window.
"""

from __future__ import annotations

import math
import re
import zoneinfo
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from llmops.components.capacity.promql import DEMAND_WINDOW_S, RISE_WINDOW_S, RULE_INTERVAL_S

DEFAULT_TARGET = 0.8
"""Default `target` of a deployed model: 80 % of a replica's working batch."""
DEFAULT_SCALE_DOWN_WINDOW_S = 300
"""The HPA's own default scale-down stabilisation (300 s)."""
HPA_TOLERANCE = 0.1
"""The HPA's default tolerance: no change while metric/target is within 10 %."""
HPA_SYNC_PERIOD_S = 15
"""kube-controller-manager's --horizontal-pod-autoscaler-sync-period default (K3s keeps it)."""
KEDA_POLLING_INTERVAL_S = 15
"""KEDA's default pollingInterval."""
SCALE_UP_PERIOD_S = 15
"""Period of the scale-up and scale-down rate policies (the HPA's default 15 s)."""
PLANNING_MIX = (1000.0, 200.0)
"""Token mix (prompt, output) the deployed signals assume: the working batch behind the reactive
threshold and the per-token costs behind the demand record. A chat-style request."""
CRON_OUTSIDE_WINDOW = 1
"""What KEDA's cron scaler reports outside its window (its defaultDesiredReplicas)."""

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


def _cron_days(text: str) -> frozenset[int]:
    """Days of a cron day-of-week field, 0 = Sunday (7 is Sunday too)."""
    if text == "*":
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        days |= {d % 7 for d in range(int(low), int(high or low) + 1)}
    return frozenset(days)


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
        minute = self._cron_minute(clock)
        return f"{minute % 60} {minute // 60} * * {self.days}"

    @staticmethod
    def _cron_minute(clock: str) -> int:
        minutes = clock_minutes(clock)
        if minutes is None:
            raise ValueError(f"{clock!r} is not a time of day 'HH:MM'")
        # Cron has no 24:00; the last minute of the day ends the window.
        return min(minutes, 24 * 60 - 1)

    def is_open(self, epoch_s: float) -> bool:
        """Whether KEDA's cron trigger is active at this instant: from the start cron to the end
        cron, local time, on the window's days."""
        local = datetime.fromtimestamp(epoch_s, UTC).astimezone(zoneinfo.ZoneInfo(self.timezone))
        minute = local.hour * 60 + local.minute
        weekday = (local.weekday() + 1) % 7  # cron: 0 = Sunday
        opens, closes = self._cron_minute(self.start), self._cron_minute(self.end)
        return weekday in _cron_days(self.days) and opens <= minute < closes


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
    """KEDA pollingInterval: how often KEDA checks the triggers' activity, which only decides
    scaling to and from zero (ruled out by min_replicas >= 1); the HPA reads the metrics itself,
    every hpa_sync_period_s."""
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


@dataclass(frozen=True)
class DemandRule:
    """Parameters of the demand and forecast recording rules the predictive trigger reads
    (components/capacity/promql.py `rule_group` renders them)."""

    prefill_s_per_token: float
    """Replica-seconds one prompt token costs (capacity model at PLANNING_MIX)."""
    decode_s_per_token: float
    """Replica-seconds one generated token costs at the replica's working batch."""
    startup_s: int
    """The start-up time the forecast looks ahead (the model's `startupS`)."""
    window_s: int = DEMAND_WINDOW_S
    """Rate window of the demand record."""
    interval_s: int = RULE_INTERVAL_S
    """Evaluation interval of the rule group."""
    rise_window_s: int = RISE_WINDOW_S
    """How far back the forecast's rise term looks."""

    @property
    def lookahead_s(self) -> int:
        return self.startup_s + self.window_s


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
        # KEDA's cron scaler: desiredReplicas inside the window, 1 outside, against a target of 1.
        value = window.replicas if window.name in open_windows else CRON_OUTSIDE_WINDOW
        out[f"window-{window.name}"] = average_value_replicas(current, float(value), 1.0, spec.tolerance)
    return out


def desired_replicas(spec: AutoscalingSpec, current: int, values: TriggerValues) -> int:
    """The HPA's recommendation: the largest trigger's, clamped to min/max (before stabilisation)."""
    wanted = max(recommendations(spec, current, values).values())
    return min(spec.max_replicas, max(spec.min_replicas, wanted))


class HpaLoop:
    """The HPA controller's decisions for one ScaledObject, one `step` per sync period.

    As kube-controller-manager's horizontal.go does with `behavior` set: the largest trigger
    recommendation (unclamped) is recorded; scale-up takes it at once (stabilisation window 0);
    scale-down goes no lower than the largest recommendation of the scale-down window (which
    starts out holding the size the HPA found); then the rate policies and the min/max clamp.
    The rate policies never bind here: `Pods maxReplicas` per period lets one step reach the
    maximum, `Percent 100` lets one step drop every surplus replica.
    """

    def __init__(self, spec: AutoscalingSpec, initial: int, start_s: float = 0.0) -> None:
        self.spec = spec
        self._recent: deque[tuple[float, int]] = deque([(start_s, initial)])

    def step(self, now_s: float, current: int, values: TriggerValues) -> int:
        spec = self.spec
        wanted = max(recommendations(spec, current, values).values())
        cutoff = now_s - spec.scale_down_window_s
        while self._recent and self._recent[0][0] <= cutoff:
            self._recent.popleft()
        down_limit = max([wanted, *(value for _, value in self._recent)])
        size = min(max(current, wanted), down_limit)
        self._recent.append((now_s, wanted))
        # Rate policies: up to current + maxReplicas per period, down to 0 per period.
        size = min(size, current + spec.max_replicas)
        return min(spec.max_replicas, max(spec.min_replicas, size))
