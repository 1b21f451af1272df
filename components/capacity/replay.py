"""Replay a request trace through autoscaling policies as a fluid queue.

Time is cut into bins. Each request costs replica-seconds (its prefill plus its share of decode
steps at the batch the ITL SLO allows, from the throughput model); a bin's work goes into one
backlog that the ready replicas drain at one replica-second per second each; in request traces a
prompt joins it when the request arrives. A request's TTFT is the backlog it finds divided by the
ready replicas plus its own prefill. Replicas take `startup_s` to become
ready and are released at once on scale-down. See docs/decisions/020-fluid-replay.md.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from llmops.components.capacity.autoscalers import HpaParams, KedaWaitingParams, KpaParams
from llmops.components.capacity.catalog import load_catalog
from llmops.components.capacity.promql import DEMAND_WINDOW_S, RISE_WINDOW_S, RULE_INTERVAL_S, forecast
from llmops.components.capacity.scaling import (
    DEFAULT_TARGET,
    PLANNING_MIX,
    AutoscalingSpec,
    DemandRule,
    HpaLoop,
    TriggerValues,
)
from llmops.components.capacity.throughput import (
    ReplicaCapacity,
    Slo,
    TokenMix,
    replica_capacity,
    replica_perf,
)
from llmops.components.capacity.traces import Trace

POLICIES = ("static", "hpa", "kpa", "keda-waiting", "predictive", "deployed", "oracle")
REQUEST_TRACE_BIN_S = 5.0
DEFAULT_MAX_MODEL_LEN = 8192
"""Context length a replica is sized for unless the model config or --max-model-len says otherwise."""
TRACE_START_EPOCH_S = 1_704_067_200.0
"""2024-01-01 00:00 UTC, a Monday: where a trace without wall-clock times starts (cron windows)."""


@dataclass(frozen=True)
class ReplaySettings:
    model_id: str
    gpu: str
    tensor_parallel: int = 1
    slo: Slo = field(default_factory=Slo)
    startup_s: float = 180.0
    """Time from scale-up decision to a ready replica (node, image, weights, engine warm-up)."""
    max_model_len: int = DEFAULT_MAX_MODEL_LEN
    usd_per_gpu_hour: float | None = None
    """Default: the catalog's cheapest on-demand price per GPU-hour for this GPU."""
    bin_s: float | None = None
    """Default: the trace's own bin (60 s) for aggregates, 5 s for request traces."""
    min_replicas: int = 1
    hpa: HpaParams = field(default_factory=HpaParams)
    """The HPA on requests in flight per replica (`hpa`); its behaviour (tolerance, sync period,
    stabilisation) also governs the deployed predictive trigger's ScaledObject."""
    kpa: KpaParams = field(default_factory=KpaParams)
    """Knative's pod autoscaler (`kpa`)."""
    keda_waiting: KedaWaitingParams = field(default_factory=KedaWaitingParams)
    """The naive waiting-only KEDA rule (`keda-waiting`)."""
    demand_window_s: float = float(DEMAND_WINDOW_S)
    """The demand series is a rate over this window, as rate(...[1m]) in the recording rule (needs a
    scrape interval of 15 s; a 5-minute window lags a step by 2.5 minutes on average)."""
    target_utilization: float = 0.8
    """Forecast busy replicas per running replica the predictive trigger aims at (HPA-style headroom)."""
    rise_window_s: float = RISE_WINDOW_S
    """How far back the predictive rule's rise term looks (the stabilisation window)."""
    rule_interval_s: float = RULE_INTERVAL_S
    """Evaluation interval of the recording rules; the rise term samples at this spacing."""
    max_replicas: int | None = None
    """KEDA maxReplicaCount for the dynamic policies; default: twice the static size."""
    deployed: AutoscalingSpec | None = None
    """The ScaledObject the `deployed` policy simulates (`llmops replay --stack` passes the stack's).
    Default: what the stack config's defaults render for this model and GPU (target 0.8, the
    working batch at the planning token mix, min_replicas, max_replicas or twice the static size,
    predictive on, no windows)."""
    demand_rule: DemandRule | None = None
    """The recording rules the deployed predictive trigger reads. Default: the capacity model's
    per-token costs at the planning token mix and `startup_s` as the look-ahead, as the stack
    renders them."""
    deployed_target: float = DEFAULT_TARGET
    """`target` of the default ScaledObject (when `deployed` is not given)."""
    trace_start_epoch_s: float = TRACE_START_EPOCH_S
    """Wall-clock time (Unix seconds) of the trace's first second, for the cron windows."""


@dataclass(frozen=True)
class PolicyResult:
    name: str
    gpu_hours: float
    cost_usd: float
    slo_attainment: float
    """Share of all scored requests that meet the TTFT SLO."""
    peak_replicas: int
    provisioned: np.ndarray
    ready: np.ndarray
    slo_attainment_feasible: float = 1.0
    """Share of the feasible requests (whose prefill alone fits the TTFT SLO) that meet it."""
    backlog: np.ndarray | None = None
    """Backlog (replica-seconds) at the end of each bin, for scoring a part of the replay."""

    def to_json(self) -> dict[str, float | int]:
        return {
            "gpu_hours": round(self.gpu_hours, 4),
            "cost_usd": round(self.cost_usd, 2),
            "slo_attainment": round(self.slo_attainment, 6),
            "slo_attainment_feasible": round(self.slo_attainment_feasible, 6),
            "peak_replicas": self.peak_replicas,
        }


@dataclass(frozen=True)
class ReplayResult:
    trace_requests: float
    span_s: float
    bin_s: float
    load: np.ndarray
    """Busy replicas per bin (work / bin length)."""
    capacity: ReplicaCapacity
    usd_per_gpu_hour: float
    settings: ReplaySettings
    policies: dict[str, PolicyResult]
    infeasible_share: float = 0.0
    """Share of the scored requests whose prefill alone exceeds the TTFT SLO: no policy serves them."""
    deployed: tuple[AutoscalingSpec, DemandRule] | None = None
    """The ScaledObject and recording-rule parameters the `deployed` policy ran with."""

    def parameters(self) -> dict[str, Mapping[str, object]]:
        return policy_parameters(self.settings, self.deployed)

    def to_json(self) -> dict[str, object]:
        return {
            "trace": {
                "requests": round(self.trace_requests, 3),
                "span_s": round(self.span_s, 3),
                "infeasible_share": round(self.infeasible_share, 6),
            },
            "policies": {name: result.to_json() for name, result in self.policies.items()},
            "parameters": self.parameters(),
            "model": {
                "model": self.settings.model_id,
                "gpu": self.settings.gpu,
                "tensor_parallel": self.settings.tensor_parallel,
                "usd_per_gpu_hour": self.usd_per_gpu_hour,
                "replica_requests_per_s": round(self.capacity.requests_per_s, 4),
                "replica_batch": self.capacity.batch,
                "startup_s": self.settings.startup_s,
                "slo_ttft_s": self.settings.slo.ttft_s,
                "slo_itl_s": self.settings.slo.itl_s,
                "bin_s": self.bin_s,
            },
        }


@dataclass(frozen=True)
class _Load:
    work: np.ndarray
    """Replica-seconds of work arriving in each bin."""
    requests: np.ndarray
    """Requests per bin (fractional for aggregates)."""
    request_bin: np.ndarray | None
    request_offset: np.ndarray | None
    """Where in its bin each request arrives, 0 to 1 (request traces)."""
    request_prefill_s: np.ndarray | None
    bin_prefill_s: np.ndarray
    """Worst prefill among the bin's requests that can meet the SLO at all (mean for aggregates)."""
    bin_decode: np.ndarray | None = None
    """Request traces: replica-seconds of decode work per bin, spread evenly over the bin."""
    bin_first: np.ndarray | None = None
    """Request traces: index of each bin's first request; bin t holds bin_first[t]:bin_first[t + 1]."""
    request_floor_s: np.ndarray | None = None
    """Request traces: each prompt's prefill time alone, the floor of its TTFT. Its share of the
    queued work (`request_prefill_s`) is smaller where prefill overlaps memory-bound decode steps."""
    bin_tokens: tuple[np.ndarray, np.ndarray] | None = None
    """Prompt and generated tokens per bin (what vLLM's token counters add up)."""

    @property
    def floor_s(self) -> np.ndarray | None:
        return self.request_floor_s if self.request_floor_s is not None else self.request_prefill_s

    def _jumps(self, t: int, backlog: float, ready: int, bin_s: float) -> tuple[np.ndarray, float, slice]:
        """Request traces: the backlog just before each of bin t's arrivals as if it could go
        negative, and the same at the bin's end. A request's prefill joins the queue when it
        arrives; decode work is spread evenly over the bin (a sequence decodes over many steps,
        batched with others), and the ready replicas drain one replica-second per second each."""
        assert self.bin_first is not None and self.bin_decode is not None
        assert self.request_offset is not None and self.request_prefill_s is not None
        chunk = slice(int(self.bin_first[t]), int(self.bin_first[t + 1]))
        drift = float(self.bin_decode[t]) - ready * bin_s
        prefill = self.request_prefill_s[chunk]
        before = backlog + np.cumsum(prefill) - prefill + drift * self.request_offset[chunk]
        return before, backlog + float(prefill.sum()) + drift, chunk

    def advance(self, t: int, backlog: float, ready: int, bin_s: float) -> float:
        """Backlog at the end of bin t, from `backlog` at its start, with `ready` replicas draining.

        Aggregates arrive evenly over the bin, so only the end value matters. Request traces queue
        each prompt when it arrives: a burst early in a bin builds a backlog that the rest of the
        bin drains, which the bin's total alone would hide.
        """
        if self.bin_decode is None:
            return max(0.0, backlog + float(self.work[t]) - ready * bin_s)
        before, end, _ = self._jumps(t, backlog, ready, bin_s)
        # Reflection at zero (Lindley): the path's lowest point so far is where the queue emptied.
        lowest = min(0.0, end, float(before.min())) if len(before) else min(0.0, end)
        return end - lowest

    def arrivals_meet(
        self, t: int, backlog: float, ready: int, bin_s: float, ttft_s: float, wanted: np.ndarray | None
    ) -> bool:
        """Whether every `wanted` request of bin t meets the TTFT SLO, starting from `backlog` with
        `ready` replicas (request traces; aggregates are judged by the bin's end)."""
        if wanted is None or self.bin_decode is None or self.request_prefill_s is None:
            return True
        before, _, chunk = self._jumps(t, backlog, ready, bin_s)
        if not len(before):
            return True
        if ready <= 0:
            return not bool(wanted[chunk].any())
        ahead = before - np.minimum(0.0, np.minimum.accumulate(before))
        mask = wanted[chunk]
        floor = self.floor_s
        assert floor is not None
        return bool(np.all(ahead[mask] / ready + floor[chunk][mask] <= ttft_s + 1e-9))


def _bin_load(trace: Trace, capacity: ReplicaCapacity, bin_s: float, ttft_s: float) -> _Load:
    prefill_rate = capacity.prefill_tokens_per_s
    prefill_cost = capacity.prefill_s_per_token
    if trace.arrival_s is None:
        requests = np.asarray(trace.requests, dtype=np.float64)
        work = trace.input_tokens * prefill_cost + trace.output_tokens * capacity.decode_s_per_token
        with np.errstate(invalid="ignore", divide="ignore"):
            prefill = np.where(
                requests > 0, trace.input_tokens / np.maximum(requests, 1e-12) / prefill_rate, 0.0
            )
        tokens = (np.asarray(trace.input_tokens, np.float64), np.asarray(trace.output_tokens, np.float64))
        return _Load(work, requests, None, None, None, prefill, bin_tokens=tokens)
    bins = np.floor(trace.arrival_s / bin_s).astype(np.int64)
    count = int(bins[-1]) + 1 if len(bins) else 0
    prefill = trace.input_tokens * prefill_cost
    floor = trace.input_tokens / prefill_rate
    decode = np.bincount(bins, weights=trace.output_tokens * capacity.decode_s_per_token, minlength=count)
    work = np.bincount(bins, weights=prefill, minlength=count) + decode
    requests = np.bincount(bins, minlength=count).astype(np.float64)
    feasible = np.where(floor <= ttft_s, floor, 0.0)
    worst = np.zeros(count)
    np.maximum.at(worst, bins, feasible)
    offset = trace.arrival_s / bin_s - bins
    first = np.searchsorted(bins, np.arange(count + 1))
    tokens = (
        np.bincount(bins, weights=trace.input_tokens, minlength=count).astype(np.float64),
        np.bincount(bins, weights=trace.output_tokens, minlength=count).astype(np.float64),
    )
    return _Load(work, requests, bins, offset, prefill, worst, decode, first, floor, tokens)


def _request_waits(load: _Load, ready: np.ndarray, bin_s: float) -> np.ndarray:
    """Each request's wait in the fluid queue of `_Load.advance`, over the whole trace at once.

    X(t) = prompts arrived + decode work spread so far - replica-seconds served, and the backlog
    is X reflected at zero: q(t) = X(t) - min(0, min_{s<=t} X(s)). X is linear between arrivals and
    bin edges, so its running minimum only needs those points. A request waits the backlog just
    before it divided by the ready replicas; with none ready it is never served.
    """
    assert load.request_bin is not None and load.request_offset is not None
    assert load.request_prefill_s is not None and load.bin_decode is not None
    replicas = ready.astype(np.float64)
    bins = load.request_bin
    count = len(load.work)
    drift = load.bin_decode - replicas * bin_s
    drift_before_bin = np.concatenate([[0.0], np.cumsum(drift)])
    prefill_before_bin = np.concatenate([[0.0], np.cumsum(load.work - load.bin_decode)])
    prompts_before = np.cumsum(load.request_prefill_s) - load.request_prefill_s
    at_arrival = prompts_before + drift_before_bin[bins] + drift[bins] * load.request_offset
    at_edge = prefill_before_bin + drift_before_bin
    # Merge bin edges and arrivals in time order (an edge before the arrivals of its bin).
    values = np.concatenate([at_edge, at_arrival])
    order = np.lexsort(
        (
            np.concatenate([np.zeros(count + 1), np.ones(len(bins))]),
            np.concatenate([np.arange(count + 1.0), bins + load.request_offset]),
        )
    )
    lowest = np.empty_like(values)
    lowest[order] = np.minimum.accumulate(np.minimum(values[order], 0.0))
    ahead = at_arrival - lowest[count + 1 :]
    serving = replicas[bins]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(serving > 0, ahead / np.maximum(serving, 1.0), np.inf)


def _attainment(
    load: _Load, backlog: np.ndarray, ready: np.ndarray, ttft_s: float, bin_s: float, first_bin: int = 0
) -> float:
    return _attainments(load, backlog, ready, ttft_s, bin_s, first_bin)[0]


def _feasible(load: _Load, ttft_s: float) -> np.ndarray:
    """Per request (request traces) or per bin (aggregates): whether the prefill alone fits the SLO."""
    if load.request_bin is not None and load.floor_s is not None:
        return load.floor_s <= ttft_s + 1e-9
    return load.bin_prefill_s <= ttft_s + 1e-9


def _infeasible_share(load: _Load, ttft_s: float, first_bin: int) -> float:
    feasible = _feasible(load, ttft_s)
    if load.request_bin is not None:
        scored = load.request_bin >= first_bin
        return float(1 - feasible[scored].mean()) if scored.any() else 0.0
    requests = load.requests[first_bin:]
    total = float(requests.sum())
    return float((requests * ~feasible[first_bin:]).sum() / total) if total > 0 else 0.0


def _attainments(
    load: _Load,
    backlog: np.ndarray,
    ready: np.ndarray,
    ttft_s: float,
    bin_s: float,
    first_bin: int = 0,
    last_bin: int | None = None,
) -> tuple[float, float]:
    """Share of the requests from bin `first_bin` on (to `last_bin`, exclusive, when given) whose
    wait plus prefill meets the TTFT SLO.

    Request traces: each request's own wait (`_request_waits`). Aggregates arrive evenly over their
    bin, so the backlog moves linearly from its start by the bin's work less what the ready replicas
    drain, and stays at zero once the queue empties: an arrival at fraction f of the bin finds
    `max(0, start + f (work - ready * bin))` replica-seconds ahead of it and waits that divided by the
    ready replicas. With no ready replica nothing is served.
    """
    window = slice(first_bin, last_bin)
    total = float(load.requests[window].sum())
    if total <= 0:
        return 1.0, 1.0
    feasible = _feasible(load, ttft_s)
    if load.request_bin is not None and load.floor_s is not None:
        met = _request_waits(load, ready, bin_s) + load.floor_s <= ttft_s + 1e-9
        scored = load.request_bin >= first_bin
        if last_bin is not None:
            scored &= load.request_bin < last_bin
        wanted = scored & feasible
        over_feasible = float(np.mean(met[wanted])) if wanted.any() else 1.0
        return float(np.mean(met[scored])), over_feasible
    start = np.concatenate([[0.0], backlog[:-1]])
    replicas = ready.astype(np.float64)
    # Where the linear path would end if the queue could go negative; the real path stops at zero.
    end = start + load.work - replicas * bin_s
    # The backlog a bin's arrival may find and still meet the SLO, in replica-seconds.
    limit = (ttft_s - load.bin_prefill_s) * replicas + 1e-9
    with np.errstate(invalid="ignore", divide="ignore"):
        rising = np.clip((limit - start) / (end - start), 0.0, 1.0)
        falling = np.clip(1.0 - (start - limit) / (start - end), 0.0, 1.0)
    share = np.where(
        start <= limit,
        np.where(end <= limit, 1.0, rising),
        np.where(end <= limit, falling, 0.0),
    )
    # A request whose prefill alone exceeds the SLO fails whatever the queue.
    share = np.where(limit < 0, 0.0, share)
    met = (load.requests * share)[window].sum()
    feasible_requests = float((load.requests * feasible)[window].sum())
    over_feasible = float(met / feasible_requests) if feasible_requests > 0 else 1.0
    return float(met / total), over_feasible


def _constant_backlog(load: _Load, replicas: int, bin_s: float) -> np.ndarray:
    """Backlog at the end of each bin with a constant size."""
    if load.bin_decode is not None:
        # Request traces queue request by request within a bin (`_Load.advance`).
        backlog = np.empty(len(load.work))
        current = 0.0
        for t in range(len(load.work)):
            current = load.advance(t, current, replicas, bin_s)
            backlog[t] = current
        return backlog
    # Lindley's recursion q_t = max(0, q_{t-1} + x_t) in closed form: S_t - min(0, min_{j<=t} S_j).
    cumulative = np.cumsum(load.work - replicas * bin_s)
    return cumulative - np.minimum(0.0, np.minimum.accumulate(cumulative))


def _simulate(
    load: _Load,
    bin_s: float,
    startup_bins: int,
    initial_ready: int,
    decide: Callable[[int, float, int], int],
    observed: list[tuple[float, int]] | None = None,
    fleet: Fleet | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run replicas against the work. `decide(t, backlog_before_t, provisioned)` gives the target
    replica count at the start of bin t from what was observable by then; `observed`, when given,
    receives (backlog, ready replicas) at the start of each bin before the decision. `fleet`: where
    the replicas run when that matters (pools with sizes that can be lost: components.capacity.
    failover); default: one pool without limit, below."""
    bins = len(load.work)
    if fleet is not None:
        return _simulate_fleet(load, bin_s, initial_ready, decide, observed, fleet)
    arriving = [0] * (bins + startup_bins + 1)
    ready = initial_ready
    starting = 0
    backlog = 0.0
    provisioned_out = np.empty(bins, dtype=np.int64)
    ready_out = np.empty(bins, dtype=np.int64)
    backlog_out = np.empty(bins)
    for t in range(bins):
        if arriving[t]:
            ready += arriving[t]
            starting -= arriving[t]
        if observed is not None:
            observed.append((backlog, ready))
        target = decide(t, backlog, ready + starting)
        current = ready + starting
        if target > current:
            if startup_bins == 0:
                ready += target - current
            else:
                arriving[t + startup_bins] += target - current
                starting += target - current
        elif target < current:
            surplus = current - target
            # Cancel replicas still starting (newest first) before stopping ready ones.
            slot = t + startup_bins
            while surplus and starting and slot > t:
                cancel = min(surplus, arriving[slot])
                arriving[slot] -= cancel
                starting -= cancel
                surplus -= cancel
                slot -= 1
            ready -= surplus
        backlog = load.advance(t, backlog, ready, bin_s)
        provisioned_out[t] = ready + starting
        ready_out[t] = ready
        backlog_out[t] = backlog
    return provisioned_out, ready_out, backlog_out


class Fleet(Protocol):
    """Replicas placed on pools (components.capacity.failover.PoolFleet): the same bin order as
    `_simulate` (arrivals, observation, decision, then the queue drains on the ready replicas)."""

    def start(self, initial_ready: int) -> None: ...
    def begin_bin(self, t: int) -> None:
        """Losses, returns and arrivals at the start of bin t."""

    @property
    def ready(self) -> int: ...
    @property
    def provisioned(self) -> int:
        """Replicas on a node (ready or starting): what costs GPU-hours."""
        ...

    @property
    def desired(self) -> int:
        """The Deployment's replica count: provisioned plus those waiting for room."""
        ...

    def scale(self, t: int, target: int) -> None: ...


def _simulate_fleet(
    load: _Load,
    bin_s: float,
    initial_ready: int,
    decide: Callable[[int, float, int], int],
    observed: list[tuple[float, int]] | None,
    fleet: Fleet,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    bins = len(load.work)
    provisioned_out = np.empty(bins, dtype=np.int64)
    ready_out = np.empty(bins, dtype=np.int64)
    backlog_out = np.empty(bins)
    backlog = 0.0
    fleet.start(initial_ready)
    for t in range(bins):
        fleet.begin_bin(t)
        if observed is not None:
            observed.append((backlog, fleet.ready))
        # The autoscaler sees the Deployment's count, replicas still waiting for a node included.
        fleet.scale(t, decide(t, backlog, fleet.desired))
        backlog = load.advance(t, backlog, fleet.ready, bin_s)
        provisioned_out[t] = fleet.provisioned
        ready_out[t] = fleet.ready
        backlog_out[t] = backlog
    return provisioned_out, ready_out, backlog_out


class _Stabiliser:
    """HPA scale-down stabilisation: the target is the largest recommendation in the window."""

    def __init__(self, window_bins: int) -> None:
        self.window = max(1, window_bins)
        self.recent: deque[tuple[int, int]] = deque()

    def push(self, t: int, value: int) -> int:
        while self.recent and self.recent[-1][1] <= value:
            self.recent.pop()
        self.recent.append((t, value))
        while self.recent[0][0] <= t - self.window:
            self.recent.popleft()
        return self.recent[0][1]


@dataclass
class _Run:
    """Everything a policy needs: the binned load and the settings turned into bins."""

    load: _Load
    settings: ReplaySettings
    capacity: ReplicaCapacity
    bin_s: float
    price: float
    startup_bins: int
    initial: int
    static_size: int = 0
    cap: int = 0
    scored_from: int = 0
    """First bin that counts: the fleet before the first start-up time is the replay's initial
    condition, which no policy's decision can change (every policy, static and oracle included)."""
    static_served: np.ndarray | None = None
    """Request traces: which requests the static size serves within the SLO (the oracle must too)."""
    deployed: tuple[AutoscalingSpec, DemandRule] | None = None
    """The `deployed` policy's ScaledObject and recording rules (settings', or the defaults)."""
    fleet: Callable[[], Fleet] | None = None
    """Where the dynamic policies' replicas run (a new fleet per policy); default: one pool
    without limit."""

    @property
    def work(self) -> np.ndarray:
        return self.load.work

    def simulate(
        self,
        initial: int,
        decide: Callable[[int, float, int], int],
        observed: list[tuple[float, int]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`_simulate` on this run's load, on its fleet when it has one."""
        fleet = self.fleet() if self.fleet is not None else None
        return _simulate(self.load, self.bin_s, self.startup_bins, initial, decide, observed, fleet)

    def finish(
        self, name: str, provisioned: np.ndarray, ready: np.ndarray, backlog: np.ndarray
    ) -> PolicyResult:
        scored = provisioned[self.scored_from :]
        gpu_hours = float(scored.sum()) * self.bin_s * self.settings.tensor_parallel / 3600
        attained, attained_feasible = _attainments(
            self.load, backlog, ready, self.settings.slo.ttft_s, self.bin_s, self.scored_from
        )
        return PolicyResult(
            name=name,
            gpu_hours=gpu_hours,
            cost_usd=gpu_hours * self.price,
            slo_attainment=attained,
            peak_replicas=int(scored.max()) if len(scored) else 0,
            provisioned=provisioned,
            ready=ready,
            slo_attainment_feasible=attained_feasible,
            backlog=backlog,
        )

    def attainment_between(self, result: PolicyResult, first_bin: int, last_bin: int) -> tuple[float, float]:
        """A policy's attainment (all, feasible) over bins first_bin..last_bin-1 alone."""
        assert result.backlog is not None
        return _attainments(
            self.load, result.backlog, result.ready, self.settings.slo.ttft_s, self.bin_s, first_bin, last_bin
        )

    def requests_between(self, first_bin: int, last_bin: int) -> tuple[float, float]:
        """Requests (all, feasible) arriving in bins first_bin..last_bin-1."""
        feasible = _feasible(self.load, self.settings.slo.ttft_s)
        if self.load.request_bin is not None:
            inside = (self.load.request_bin >= first_bin) & (self.load.request_bin < last_bin)
            return float(inside.sum()), float((inside & feasible).sum())
        window = slice(first_bin, last_bin)
        return float(self.load.requests[window].sum()), float((self.load.requests * feasible)[window].sum())

    def constant_attainment(self, replicas: int) -> float:
        ready = np.full(len(self.work), replicas)
        if self.load.bin_decode is not None:
            # Request traces take each request's wait from the ready replicas alone.
            backlog = np.zeros(len(self.work))
        else:
            backlog = _constant_backlog(self.load, replicas, self.bin_s)
        return _attainment(self.load, backlog, ready, self.settings.slo.ttft_s, self.bin_s, self.scored_from)

    def served_by_constant(self, replicas: int) -> np.ndarray | None:
        """Request traces: each request's verdict under a constant size."""
        if self.load.request_prefill_s is None or self.load.bin_decode is None:
            return None
        waits = _request_waits(self.load, np.full(len(self.work), replicas), self.bin_s)
        floor = self.load.floor_s
        assert floor is not None
        return waits + floor <= self.settings.slo.ttft_s + 1e-9

    def waiting_recommendation(self, backlog: float, replicas: int) -> int:
        """The production stack's KEDA rule: AverageValue target of 5 waiting requests per replica,
        with the HPA's 10 % tolerance."""
        params = self.settings.keda_waiting
        waiting = backlog / self.capacity.service_s_per_request
        ratio = waiting / max(replicas, 1) / params.waiting_per_replica
        if abs(ratio - 1) <= params.tolerance:
            return replicas
        return max(self.settings.min_replicas, math.ceil(waiting / params.waiting_per_replica - 1e-9))

    def in_flight(self, t: int, backlog: float, ready: int) -> float:
        """Requests in flight (running + waiting) at the start of bin t, as vLLM's gauges count them.

        The fluid backlog is outstanding work, `backlog / cost of a request` requests' worth, some of
        it in requests already running. Running: the arrivals of the last request lifetime (Little's
        law) plus that outstanding work, at most every ready replica's working batch; waiting: the
        outstanding requests beyond those slots."""
        if not len(self.load.requests) or t <= 0:
            return 0.0
        capacity = self.capacity
        lifetime = capacity.prefill_s + capacity.service_s_per_request * capacity.batch
        span = max(1, min(t, round(lifetime / self.bin_s)))
        rate = float(self.load.requests[t - span : t].sum()) / (span * self.bin_s)
        outstanding = backlog / capacity.service_s_per_request
        slots = max(ready, 0) * capacity.batch
        running = min(float(slots), rate * lifetime + outstanding)
        return running + max(0.0, outstanding - slots)


def _static_size(run: _Run) -> int:
    """The smallest constant size that serves every request the SLO allows at all."""
    busy = run.work / run.bin_s
    floor = run.settings.min_replicas
    high = max(floor, math.ceil(float(busy.max()) - 1e-9) + 1) if len(busy) else floor
    best = run.constant_attainment(high)
    low = floor
    while low < high:
        middle = (low + high) // 2
        if run.constant_attainment(middle) >= best - 1e-12:
            high = middle
        else:
            low = middle + 1
    return low


def _static(run: _Run) -> PolicyResult:
    if run.fleet is not None:
        # A constant Deployment: lost replicas are re-created wherever there is room.
        return run.finish("static", *run.simulate(run.static_size, lambda _t, _b, _r: run.static_size))
    fixed = np.full(len(run.work), run.static_size, dtype=np.int64)
    return run.finish("static", fixed, fixed, _constant_backlog(run.load, run.static_size, run.bin_s))


def _oracle_plan(run: _Run, use_slack: bool) -> list[int]:
    """Per bin, the fewest ready replicas that keep every arrival's wait within the TTFT SLO (with
    `use_slack`, letting a backlog build as far as the SLO allows), provisioned one start-up ahead."""
    floor = run.settings.min_replicas
    if use_slack:
        allowance = np.maximum(run.settings.slo.ttft_s - run.load.bin_prefill_s, 0.0)
    else:
        allowance = np.zeros(len(run.work))
    needed = np.empty(len(run.work), dtype=np.int64)
    backlog = 0.0
    load, bin_s, ttft_s = run.load, run.bin_s, run.settings.slo.ttft_s

    def enough(t: int, replicas: int, slack: float) -> bool:
        end = load.advance(t, backlog, replicas, bin_s)
        return end <= slack * replicas + 1e-9 and load.arrivals_meet(
            t, backlog, replicas, bin_s, ttft_s, run.static_served
        )

    for t, (arrived, slack) in enumerate(zip(run.work.tolist(), allowance.tolist(), strict=True)):
        # The bin's total is a lower bound; a burst inside a request trace's bin can need more.
        replicas = max(floor, math.ceil((backlog + arrived) / (bin_s + slack) - 1e-9))
        if not enough(t, replicas, slack):
            low, high = replicas, replicas * 2
            while not enough(t, high, slack):
                low, high = high, high * 2
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (low, middle) if enough(t, middle, slack) else (middle, high)
            replicas = high
        backlog = load.advance(t, backlog, replicas, bin_s)
        needed[t] = replicas
    # Replicas ready at t must be provisioned from t - start-up on: a forward sliding maximum.
    k = run.startup_bins
    if k and len(needed):
        padded = np.concatenate([needed, np.full(k, needed[-1])])
        return np.lib.stride_tricks.sliding_window_view(padded, k + 1).max(axis=1)[: len(needed)].tolist()
    return needed.tolist()


def _follow(plan: list[int]) -> Callable[[int, float, int], int]:
    return lambda t, _backlog, _provisioned: plan[t]


def _oracle(run: _Run) -> PolicyResult:
    """Perfect foresight: the cheapest of three plans that all serve every request the SLO allows —
    per-bin sizing that lets a backlog build within the SLO, per-bin sizing without backlog, and
    the static size. Greedy per-bin sizing is not optimal on its own (a backlog left early can cost
    a replica later), so knowing the future includes knowing when a flat size is cheaper."""
    candidates: list[PolicyResult] = []
    for use_slack in (True, False):
        plan = _oracle_plan(run, use_slack)
        initial = int(plan[0]) if plan else run.settings.min_replicas
        simulated = _simulate(run.load, run.bin_s, run.startup_bins, initial, _follow(plan))
        candidates.append(run.finish("oracle", *simulated))
    fixed = np.full(len(run.work), run.static_size, dtype=np.int64)
    candidates.append(
        run.finish("oracle", fixed, fixed, _constant_backlog(run.load, run.static_size, run.bin_s))
    )
    # Every plan serves at least the requests the static size serves; the static size is a candidate.
    serving = [c for c in candidates if c.slo_attainment >= candidates[-1].slo_attainment - 1e-12]
    return min(serving, key=lambda candidate: candidate.gpu_hours)


def _keda_waiting(run: _Run) -> PolicyResult:
    """Naive baseline: the waiting-only KEDA rule (KedaWaitingParams)."""
    stabiliser = _Stabiliser(_bins(run.settings.keda_waiting.scale_down_stabilization_s, run.bin_s))

    def decide(t: int, backlog: float, replicas: int) -> int:
        if t == 0:
            # The HPA's window starts out holding the size the service already runs at.
            return stabiliser.push(0, run.initial)
        return min(run.cap, stabiliser.push(t, run.waiting_recommendation(backlog, replicas)))

    return run.finish("keda-waiting", *run.simulate(run.initial, decide))


def _bins(seconds: float, bin_s: float) -> int:
    return max(0, math.ceil(seconds / bin_s - 1e-9))


def _hpa(run: _Run, params: HpaParams | None = None, name: str = "hpa") -> PolicyResult:
    """Kubernetes HPA on requests in flight per replica (HpaParams): AverageValue target, tolerance,
    immediate scale-up within the default rate policy, scale-down stabilisation, one decision per
    sync period on a metric one scrape old."""
    params = params or run.settings.hpa
    stabiliser = _Stabiliser(_bins(params.scale_down_stabilization_s, run.bin_s))
    sync = max(1, round(params.sync_period_s / run.bin_s))
    syncs_per_bin = max(1, round(run.bin_s / params.sync_period_s))
    lag = round(params.metric_lag_s / run.bin_s)
    observed: list[tuple[float, int]] = []
    state = {"size": run.initial}

    def decide(t: int, _backlog: float, replicas: int) -> int:
        if t == 0:
            return stabiliser.push(0, run.initial)
        if t % sync:
            return state["size"]
        seen = max(0, t - lag)
        backlog, ready = observed[seen]
        wanted = params.recommend(run.in_flight(seen, backlog, ready), replicas, run.capacity.batch)
        wanted = min(wanted, params.scale_up_limit(replicas, syncs_per_bin))
        size = min(run.cap, max(run.settings.min_replicas, stabiliser.push(t, wanted)))
        state["size"] = size
        return size

    return run.finish(name, *run.simulate(run.initial, decide, observed))


def _kpa(run: _Run) -> PolicyResult:
    """Knative's KPA (KpaParams): desired = concurrency averaged over the stable window / (batch x
    target utilisation); panic mode (never scale down, follow the panic window) while the panic
    window's desired size is at least 200 % of the current; scale-down at most halves per tick."""
    params = run.settings.kpa
    target = max(run.capacity.batch, 1) * params.target_utilization
    stable = max(1, round(params.stable_window_s / run.bin_s))
    panic = max(1, round(params.panic_window_s / run.bin_s))
    ticks_per_bin = max(1, round(run.bin_s / params.tick_s))
    observed: list[tuple[float, int]] = []
    concurrency: list[float] = []
    state = {"panic_until": -1}

    def decide(t: int, _backlog: float, replicas: int) -> int:
        backlog, ready = observed[t]
        concurrency.append(run.in_flight(t, backlog, ready))
        if t == 0:
            return run.initial
        stable_desired = math.ceil(float(np.mean(concurrency[-stable:])) / target - 1e-9)
        panic_desired = math.ceil(float(np.mean(concurrency[-panic:])) / target - 1e-9)
        current = max(replicas, 1)
        if panic_desired / current >= params.panic_threshold:
            state["panic_until"] = t + stable
        wanted = max(current, panic_desired) if t < state["panic_until"] else stable_desired
        floor = math.ceil(current / params.max_scale_down_rate**ticks_per_bin - 1e-9)
        wanted = max(wanted, floor)
        return min(run.cap, max(run.settings.min_replicas, wanted))

    return run.finish("kpa", *run.simulate(run.initial, decide, observed))


def deployed_parameters(spec: AutoscalingSpec, rule: DemandRule) -> dict[str, object]:
    """Every parameter of the deployed ScaledObject and of the recording rules its predictive trigger
    reads, flat, as the `deployed` policy used them (a test compares them with the plan's objects)."""
    return {
        "min_replicas": spec.min_replicas,
        "max_replicas": spec.max_replicas,
        "target": spec.target,
        "working_batch": spec.working_batch,
        "reactive_threshold": spec.reactive_threshold,
        "predictive": spec.predictive,
        "predictive_threshold": spec.predictive_threshold,
        "windows": [
            {
                "name": w.name,
                "start": w.start,
                "end": w.end,
                "replicas": w.replicas,
                "timezone": w.timezone,
                "days": w.days,
            }
            for w in spec.windows
        ],
        "tolerance": spec.tolerance,
        "scale_down_window_s": spec.scale_down_window_s,
        "scale_up_period_s": spec.scale_up_period_s,
        "polling_interval_s": spec.polling_interval_s,
        "hpa_sync_period_s": spec.hpa_sync_period_s,
        "scrape_interval_s": spec.scrape_interval_s,
        "rule_interval_s": rule.interval_s,
        "prometheus_url": spec.prometheus_url,
        "served_model_name": spec.served_model_name,
        "demand_prefill_s_per_token": rule.prefill_s_per_token,
        "demand_decode_s_per_token": rule.decode_s_per_token,
        "demand_window_s": rule.window_s,
        "forecast_startup_s": rule.startup_s,
        "forecast_lookahead_s": rule.lookahead_s,
        "forecast_rise_window_s": rule.rise_window_s,
    }


def policy_parameters(
    settings: ReplaySettings, deployed: tuple[AutoscalingSpec, DemandRule] | None = None
) -> dict[str, Mapping[str, object]]:
    """Every policy's parameters, as the report prints them (sources in components.capacity.autoscalers
    and docs/capacity.md). `deployed`: the resolved ScaledObject and rules of a replay; without it
    the `deployed` entry names where they come from."""
    if deployed is not None:
        deployed_entry: Mapping[str, object] = deployed_parameters(*deployed)
    elif settings.deployed is not None and settings.demand_rule is not None:
        deployed_entry = deployed_parameters(settings.deployed, settings.demand_rule)
    else:
        deployed_entry = {
            "rule": "the stack's ScaledObject (--stack), else the config defaults for this model and GPU"
        }
    return {
        "static": {"rule": "smallest constant size that serves every feasible request"},
        "hpa": settings.hpa.to_json(),
        "kpa": settings.kpa.to_json(),
        "keda-waiting": {**settings.keda_waiting.to_json(), "naive": True},
        "predictive": {
            "target_utilization": settings.target_utilization,
            "lookahead_s": settings.startup_s + settings.demand_window_s,
            "demand_window_s": settings.demand_window_s,
            "rise_window_s": settings.rise_window_s,
            "rule_interval_s": settings.rule_interval_s,
            "scale_down_stabilization_s": settings.hpa.scale_down_stabilization_s,
        },
        "deployed": deployed_entry,
        "oracle": {"rule": "perfect foresight, provisioned one start-up ahead"},
    }


def default_deployed(
    settings: ReplaySettings, planning: ReplicaCapacity, max_replicas: int
) -> tuple[AutoscalingSpec, DemandRule]:
    """The ScaledObject and rules the stack config's defaults give this model and GPU, unless the
    settings carry their own: the same fields infra.autoscaling fills from a model's config."""
    spec = settings.deployed or AutoscalingSpec(
        min_replicas=settings.min_replicas,
        max_replicas=max(settings.min_replicas, max_replicas),
        target=settings.deployed_target,
        working_batch=planning.batch,
        served_model_name=settings.model_id,
    )
    rule = settings.demand_rule or DemandRule(
        prefill_s_per_token=planning.prefill_s_per_token,
        decode_s_per_token=planning.decode_s_per_token,
        startup_s=round(settings.startup_s),
    )
    return spec, rule


def deployed_forecast(
    prompt_tokens: np.ndarray, generated_tokens: np.ndarray, rule: DemandRule, bin_s: float
) -> np.ndarray:
    """The forecast rule's value at the end of every bin of token counts: the demand record (token
    rates over the rule's window times the deployed per-token costs) fed to the same `forecast()`
    the rule is checked against. Tokens count in the bin they arrive in (a backlog delays vLLM's
    counters; see docs/decisions/073-replaying-the-deployed-policy.md)."""
    busy = (
        np.asarray(prompt_tokens, np.float64) * rule.prefill_s_per_token
        + np.asarray(generated_tokens, np.float64) * rule.decode_s_per_token
    ) / bin_s
    window = max(1, round(rule.window_s / bin_s))
    counts = np.minimum(np.arange(1, len(busy) + 1), window)
    demand = np.convolve(busy, np.ones(window))[: len(busy)] / counts
    return forecast(
        demand,
        bin_s,
        rule.lookahead_s,
        rise_window_s=rule.rise_window_s,
        rise_step_s=max(rule.interval_s, bin_s),
    )


def _deployed(run: _Run) -> PolicyResult:
    """The deployed ScaledObject (settings.deployed / default_deployed): every HPA sync period the
    HPA loop (`HpaLoop`) reads the reactive trigger's requests in flight one scrape interval old,
    the forecast of the rule's latest evaluation and the open cron windows, and takes the largest
    recommendation with the tolerance, immediate scale-up and the stabilised scale-down."""
    assert run.deployed is not None
    spec, rule = run.deployed
    bin_s = run.bin_s
    assert run.load.bin_tokens is not None
    predicted = deployed_forecast(*run.load.bin_tokens, rule, bin_s).tolist()
    sync = max(1, round(spec.hpa_sync_period_s / bin_s))
    lag = round(spec.scrape_interval_s / bin_s)
    rule_bins = max(1, round(rule.interval_s / bin_s))
    start = run.settings.trace_start_epoch_s
    open_at = [[w.is_open(start + t * bin_s) for t in range(len(run.work))] for w in spec.windows]
    initial = min(spec.max_replicas, max(spec.min_replicas, run.initial))
    loop = HpaLoop(spec, initial)
    observed: list[tuple[float, int]] = []
    state = {"size": initial}

    def decide(t: int, _backlog: float, replicas: int) -> int:
        if t == 0:
            return initial
        if t % sync:
            return state["size"]
        seen = max(0, t - lag)
        backlog, ready = observed[seen]
        # The rule's latest evaluation at or before now, over the demand of the bins before it.
        evaluated = t // rule_bins * rule_bins
        values = TriggerValues(
            in_flight=run.in_flight(seen, backlog, ready),
            forecast=predicted[evaluated - 1] if evaluated >= 1 else None,
            active_windows=tuple(
                window.name for window, is_open in zip(spec.windows, open_at, strict=True) if is_open[t]
            ),
        )
        state["size"] = loop.step(t * bin_s, replicas, values)
        return state["size"]

    return run.finish("deployed", *run.simulate(initial, decide, observed))


def _predictive(run: _Run) -> PolicyResult:
    settings = run.settings
    busy = run.work / run.bin_s
    window = max(1, round(settings.demand_window_s / run.bin_s))
    # The demand series is a trailing mean, as rate(...[1m]) in the recording rule.
    # Over the first bins the window is not full yet: average what there is, as rate() does.
    counts = np.minimum(np.arange(1, len(busy) + 1), window)
    demand = np.convolve(busy, np.ones(window))[: len(busy)] / counts
    lookahead_s = settings.startup_s + settings.demand_window_s
    predicted = forecast(
        demand,
        run.bin_s,
        lookahead_s,
        rise_window_s=settings.rise_window_s,
        rise_step_s=max(settings.rule_interval_s, run.bin_s),
    )
    targets = np.ceil(predicted / settings.target_utilization - 1e-9)
    target_list = targets.astype(np.int64).tolist()
    demand_list = demand.tolist()
    drain_s = max(settings.startup_s, run.bin_s)
    stabiliser = _Stabiliser(_bins(settings.hpa.scale_down_stabilization_s, run.bin_s))

    def decide(t: int, backlog: float, replicas: int) -> int:
        if t == 0:
            # The HPA's window starts out holding the size the service already runs at.
            return stabiliser.push(0, run.initial)
        # The rule's latest value at the start of bin t is the one computed at the end of t - 1.
        # Reactive floor (the serving component's waiting + running trigger): replicas for the
        # current demand plus those that clear the backlog within one start-up time.
        floor_now = math.ceil((demand_list[t - 1] + backlog / drain_s) / settings.target_utilization - 1e-9)
        wanted = max(settings.min_replicas, target_list[t - 1], floor_now)
        return min(run.cap, stabiliser.push(t, wanted))

    return run.finish("predictive", *run.simulate(run.initial, decide))


def _warm_start(busy: np.ndarray, bin_s: float, settings: ReplaySettings) -> int:
    """Replicas the dynamic policies start with. A trace is a window cut out of running traffic,
    so the service was already sized for it: the mean demand over the first look-ahead (start-up
    plus rate window) at the target utilisation, as the predictive rule would have set it."""
    if not len(busy):
        return settings.min_replicas
    head = max(1, math.ceil((settings.startup_s + settings.demand_window_s) / bin_s))
    mean = float(busy[:head].mean())
    return max(settings.min_replicas, math.ceil(mean / settings.target_utilization - 1e-9))


_POLICY_RUNNERS: dict[str, Callable[[_Run], PolicyResult]] = {
    "static": _static,
    "hpa": _hpa,
    "kpa": _kpa,
    "keda-waiting": _keda_waiting,
    "predictive": _predictive,
    "deployed": _deployed,
    "oracle": _oracle,
}


def replay(trace: Trace, settings: ReplaySettings, policies: tuple[str, ...] = POLICIES) -> ReplayResult:
    run = prepare_run(trace, settings, policies)
    return run_policies(run, trace, policies)


def run_policies(run: _Run, trace: Trace, policies: tuple[str, ...]) -> ReplayResult:
    """Each policy on a prepared run (`prepare_run`), as one result."""
    return ReplayResult(
        infeasible_share=_infeasible_share(run.load, run.settings.slo.ttft_s, run.scored_from),
        trace_requests=trace.request_count,
        span_s=trace.span_s,
        bin_s=run.bin_s,
        load=run.load.work / run.bin_s,
        capacity=run.capacity,
        usd_per_gpu_hour=run.price,
        settings=run.settings,
        policies={name: _POLICY_RUNNERS[name](run) for name in policies},
        deployed=run.deployed,
    )


def prepare_run(trace: Trace, settings: ReplaySettings, policies: tuple[str, ...] = POLICIES) -> _Run:
    """The trace binned into work for the model and GPU, the static size, the dynamic policies'
    ceiling and the deployed ScaledObject: what every policy runs on."""
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        raise ValueError(f"policy {unknown[0]!r} is not one of {', '.join(POLICIES)}")
    mean_in, mean_out = trace.mean_tokens()
    perf = replica_perf(
        settings.model_id, settings.gpu, settings.tensor_parallel, max_model_len=settings.max_model_len
    )
    capacity = replica_capacity(perf, TokenMix(max(mean_in, 1.0), max(mean_out, 1.0)), settings.slo)
    price = settings.usd_per_gpu_hour
    if price is None:
        row = load_catalog().cheapest_gpu_hour(settings.gpu)
        price = (row.on_demand_usd_per_h or 0.0) / row.gpu_count
    if trace.is_aggregate:
        bin_s = trace.bin_s or 60.0
        if settings.bin_s not in (None, bin_s):
            raise ValueError(f"bin_s {settings.bin_s} differs from the aggregate trace's own {bin_s} s bins")
    else:
        bin_s = settings.bin_s or REQUEST_TRACE_BIN_S
    load = _bin_load(trace, capacity, bin_s, settings.slo.ttft_s)
    busy = load.work / bin_s
    run = _Run(
        load=load,
        settings=settings,
        capacity=capacity,
        bin_s=bin_s,
        price=price,
        startup_bins=math.ceil(settings.startup_s / bin_s - 1e-9),
        initial=_warm_start(busy, bin_s, settings),
    )
    # A trace shorter than two start-up times is scored whole.
    run.scored_from = run.startup_bins if len(busy) >= 2 * run.startup_bins else 0
    run.static_size = _static_size(run)
    run.static_served = run.served_by_constant(run.static_size)
    run.cap = settings.max_replicas or 2 * run.static_size
    if "deployed" in policies:
        planning = replica_capacity(perf, TokenMix(*PLANNING_MIX))
        run.deployed = default_deployed(settings, planning, run.cap)
    return run


def plot(
    result: ReplayResult,
    path: str,
    window_h: tuple[float, float] | None = None,
    policies: tuple[str, ...] | None = None,
) -> None:
    """Load and each policy's provisioned replicas over time (PNG, no display needed); `window_h`
    zooms into (start, end) hours, `policies` picks which to draw (default: all)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first, last = 0, len(result.load)
    if window_h is not None:
        first = max(0, int(window_h[0] * 3600 / result.bin_s))
        last = min(len(result.load), int(window_h[1] * 3600 / result.bin_s))
    # Long series: draw the maximum of each chunk so a 14-day replay stays readable at ~2,000 points.
    span = last - first
    chunk = max(1, span // 2000)
    usable = span // chunk * chunk

    def peak(values: np.ndarray) -> np.ndarray:
        values = values[first:last]
        return values[:usable].reshape(-1, chunk).max(axis=1) if usable else values

    hours = (first + np.arange(0, usable or span, chunk)) * result.bin_s / 3600
    figure, axis = plt.subplots(figsize=(12, 4.5), dpi=100)
    axis.plot(hours, peak(result.load), color="0.5", linewidth=0.6, label="load (busy replicas)")
    for name, policy in result.policies.items():
        if policies is not None and name not in policies:
            continue
        label = (
            f"{name}: {policy.gpu_hours:.1f} GPU-h, SLO {policy.slo_attainment:.1%} all / "
            f"{policy.slo_attainment_feasible:.1%} feasible"
        )
        axis.step(hours, peak(policy.provisioned), where="post", linewidth=0.9, label=label)
    axis.set_xlabel("hours since trace start" + (f" (maximum per {chunk} bins)" if chunk > 1 else ""))
    axis.set_ylabel("replicas")
    axis.set_title(
        f"{result.settings.model_id} on {result.settings.gpu} x{result.settings.tensor_parallel}, "
        f"start-up {result.settings.startup_s:.0f} s, TTFT SLO {result.settings.slo.ttft_s:g} s, "
        f"infeasible {result.infeasible_share:.1%}"
    )
    axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
