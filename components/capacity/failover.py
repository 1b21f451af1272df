"""A pool lost mid-replay: replicas on pools of bounded size, one pool's replicas vanishing at T.

The model's replicas run on its pools, filled in preference order up to each pool's size (in
replicas: machines x replicas per machine). At a loss the pool's replicas, ready or starting, stop
serving at once and the pool holds nothing until it returns. The Deployment keeps its count: the
lost pods are replaced after `replace_after_s` (the node controller's notice of a dead node plus
the pods' not-ready toleration) on the pools that have room, and serve one start-up time later; what
finds no room waits until a pool has some. The autoscaler under test sees the Deployment's count and
the ready replicas' load, and may ask for more. Everything else is the fluid replay of
components/capacity/replay.py (same queue, same policies, same attainment); see
docs/decisions/141-pool-loss-replay.md.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from llmops.components.capacity.replay import (
    POLICIES,
    PolicyResult,
    ReplayResult,
    ReplaySettings,
    prepare_run,
    run_policies,
)
from llmops.components.capacity.traces import Trace

NODE_MONITOR_GRACE_S = 50
"""kube-controller-manager's --node-monitor-grace-period (50 s since Kubernetes 1.32): a node that
stops reporting is NotReady after this long."""
NOT_READY_TOLERATION_S = 30
"""How long the serving pods tolerate a NotReady or unreachable node before they are evicted and
replaced (components/serving/vllm_model.py sets it; Kubernetes' default is 300 s)."""
DEFAULT_REPLACE_AFTER_S = NODE_MONITOR_GRACE_S + NOT_READY_TOLERATION_S
LOSS_POLICIES = tuple(p for p in POLICIES if p != "oracle")
"""Policies replayed through a loss; the oracle's foresight would include the loss itself."""


@dataclass(frozen=True)
class PoolRoom:
    """One of the model's pools: its name, how many replicas it holds at its largest, and its rank
    in the model's preference (None: its place in the list). Consecutive pools of one rank are
    equally preferred (placement `spread`): replicas go round-robin over them."""

    name: str
    replicas: int
    rank: int | None = None


@dataclass(frozen=True)
class PoolLoss:
    """The pool `pool` holds nothing from `at_s` (seconds since the trace start) for `duration_s`
    (None: to the end of the replay)."""

    pool: str
    at_s: float
    duration_s: float | None = None

    def bins(self, bin_s: float, total: int) -> tuple[int, int]:
        """First bin of the loss and the first bin after it (`total` when it lasts to the end)."""
        first = min(total, math.floor(self.at_s / bin_s + 1e-9))
        if self.duration_s is None:
            return first, total
        return first, min(total, max(first + 1, math.ceil((self.at_s + self.duration_s) / bin_s - 1e-9)))


class PoolLossError(ValueError):
    """A loss that cannot apply to this model or trace; the message names the value and the fix."""


def check_losses(losses: Sequence[PoolLoss], pools: Sequence[PoolRoom], span_s: float) -> list[str]:
    """Every problem with `losses` for a model on `pools` and a trace of `span_s` seconds."""
    names = [p.name for p in pools]
    problems = []
    for loss in losses:
        shown = f"--lose-pool {loss.pool}@{loss.at_s:g}s"
        if loss.pool not in names:
            problems.append(
                f"{shown}: {loss.pool!r} is not one of the model's pools ({', '.join(names) or 'none'}). "
                "Fix: name a pool the model may run on"
            )
        if not 0 <= loss.at_s < span_s:
            problems.append(
                f"{shown}: the loss starts outside the trace (0 to {span_s:g} s). Fix: pick a time inside it"
            )
        if loss.duration_s is not None and loss.duration_s <= 0:
            problems.append(f"{shown}: duration {loss.duration_s:g} s must be positive. Fix: e.g. +6h")
    by_pool: dict[str, list[PoolLoss]] = {}
    for loss in losses:
        by_pool.setdefault(loss.pool, []).append(loss)
    for pool, own in by_pool.items():
        own.sort(key=lambda item: item.at_s)
        for before, after in itertools.pairwise(own):
            if before.duration_s is None or before.at_s + before.duration_s > after.at_s:
                problems.append(
                    f"--lose-pool {pool}: the losses at {before.at_s:g} s and {after.at_s:g} s overlap. "
                    "Fix: give the first a duration that ends before the second starts"
                )
    return problems


@dataclass
class PoolFleet:
    """Replicas per pool (the `Fleet` that `replay._simulate` drives), with pool losses."""

    pools: Sequence[PoolRoom]
    startup_bins: int
    lost: dict[int, list[int]]
    """Bin -> indices of pools lost from that bin."""
    returned: dict[int, list[int]]
    """Bin -> indices of pools back from that bin."""
    replace_after_bins: int
    ready_by_pool: list[int] = field(default_factory=list)
    arriving: list[dict[int, int]] = field(default_factory=list)
    """Per pool: bin -> replicas becoming ready then."""
    down: set[int] = field(default_factory=set)
    waiting: int = 0
    """Replicas of the Deployment with no node: no room anywhere yet."""
    evicting: list[tuple[int, int]] = field(default_factory=list)
    """(bin from which they are replaced, count): pods of a lost pool not yet replaced."""

    def start(self, initial_ready: int) -> None:
        self.ready_by_pool = [0] * len(self.pools)
        self.arriving = [{} for _ in self.pools]
        self.down = set()
        self.waiting = 0
        self.evicting = []
        for _ in range(initial_ready):
            i = self._next_pool()
            if i is None:
                self.waiting += 1
            else:
                self.ready_by_pool[i] += 1

    def _tiers(self) -> list[list[int]]:
        """Pool indices grouped by rank, most preferred first (consecutive pools of one rank)."""
        tiers: list[list[int]] = []
        last: int | None = None
        for i, pool in enumerate(self.pools):
            rank = i if pool.rank is None else pool.rank
            if tiers and rank == last:
                tiers[-1].append(i)
            else:
                tiers.append([i])
            last = rank
        return tiers

    def _next_pool(self) -> int | None:
        """Where the scheduler puts one more replica: the most preferred rank with room, and within
        it the pool holding the fewest (the even spread; the earlier on a tie). None: no room."""
        for tier in self._tiers():
            room = [i for i in tier if i not in self.down and self._on(i) < self.pools[i].replicas]
            if room:
                return min(room, key=lambda i: (self._on(i), i))
        return None

    def _removal_order(self) -> list[int]:
        """Pools to take a replica from, first choice first: the least preferred rank, and within it
        the pool holding the most (which keeps the spread even)."""
        order: list[int] = []
        for tier in reversed(self._tiers()):
            order += sorted(tier, key=lambda i: (-self._on(i), -i))
        return order

    def _starting(self, i: int) -> int:
        return sum(self.arriving[i].values())

    def _on(self, i: int) -> int:
        return self.ready_by_pool[i] + self._starting(i)

    @property
    def ready(self) -> int:
        return sum(self.ready_by_pool)

    @property
    def provisioned(self) -> int:
        return sum(self._on(i) for i in range(len(self.pools)))

    @property
    def desired(self) -> int:
        return self.provisioned + self.waiting + sum(count for _, count in self.evicting)

    def provisioned_on(self) -> list[int]:
        return [self._on(i) for i in range(len(self.pools))]

    def begin_bin(self, t: int) -> None:
        for i in self.lost.get(t, []):
            gone = self._on(i)
            self.ready_by_pool[i] = 0
            self.arriving[i] = {}
            self.down.add(i)
            if gone:
                self.evicting.append((t + self.replace_after_bins, gone))
        for i in self.returned.get(t, []):
            self.down.discard(i)
        for i in range(len(self.pools)):
            self.ready_by_pool[i] += self.arriving[i].pop(t, 0)
        due = sum(count for at, count in self.evicting if at <= t)
        self.evicting = [(at, count) for at, count in self.evicting if at > t]
        self.waiting += due
        self._place(t)

    def _place(self, t: int) -> None:
        """Start waiting replicas on the pools with room, most preferred first (round-robin over
        equally preferred pools)."""
        while self.waiting:
            i = self._next_pool()
            if i is None:
                return
            self.waiting -= 1
            if self.startup_bins == 0:
                self.ready_by_pool[i] += 1
            else:
                slot = t + self.startup_bins
                self.arriving[i][slot] = self.arriving[i].get(slot, 0) + 1

    def scale(self, t: int, target: int) -> None:
        current = self.desired
        if target > current:
            self.waiting += target - current
            self._place(t)
            return
        surplus = current - target
        # Scale-down removes pods without a node first, then those still starting, then ready
        # ones, from the least preferred pool up (among equally preferred pools, the fullest).
        for source in ("waiting", "evicting"):
            if not surplus:
                return
            if source == "waiting":
                cut = min(surplus, self.waiting)
                self.waiting -= cut
                surplus -= cut
            else:
                while surplus and self.evicting:
                    at, count = self.evicting.pop()
                    cut = min(surplus, count)
                    surplus -= cut
                    if count > cut:
                        self.evicting.append((at, count - cut))
        for i in reversed(range(len(self.pools))):
            for slot in sorted(self.arriving[i], reverse=True):
                if not surplus:
                    return
                cut = min(surplus, self.arriving[i][slot])
                self.arriving[i][slot] -= cut
                if not self.arriving[i][slot]:
                    del self.arriving[i][slot]
                surplus -= cut
        while surplus:
            held = [i for i in self._removal_order() if self.ready_by_pool[i]]
            if not held:
                return
            self.ready_by_pool[held[0]] -= 1
            surplus -= 1


@dataclass(frozen=True)
class LossPolicyResult:
    """One policy through the loss: the whole replay and the loss windows alone."""

    result: PolicyResult
    window_attainment: float
    window_attainment_feasible: float

    def to_json(self) -> dict[str, float | int]:
        return {
            **self.result.to_json(),
            "loss_window_slo_attainment": round(self.window_attainment, 6),
            "loss_window_slo_attainment_feasible": round(self.window_attainment_feasible, 6),
        }


@dataclass(frozen=True)
class PoolLossResult:
    baseline: ReplayResult
    """Every policy without the loss, as `replay` reports it."""
    losses: tuple[PoolLoss, ...]
    pools: tuple[PoolRoom, ...]
    windows: tuple[tuple[int, int], ...]
    """Bins each loss covers (first, end)."""
    policies: dict[str, LossPolicyResult]
    replace_after_s: float

    def to_json(self) -> dict[str, object]:
        bin_s = self.baseline.bin_s
        return {
            **self.baseline.to_json(),
            "pool_loss": {
                "pools": [
                    {"name": p.name, "replicas": p.replicas, "rank": i if p.rank is None else p.rank}
                    for i, p in enumerate(self.pools)
                ],
                "losses": [
                    {
                        "pool": loss.pool,
                        "at_s": loss.at_s,
                        "duration_s": loss.duration_s,
                        "scored_from_s": first * bin_s,
                        "scored_to_s": end * bin_s,
                    }
                    for loss, (first, end) in zip(self.losses, self.windows, strict=True)
                ],
                "replace_after_s": self.replace_after_s,
                "policies": {name: value.to_json() for name, value in self.policies.items()},
            },
        }


def replay_pool_loss(
    trace: Trace,
    settings: ReplaySettings,
    pools: Sequence[PoolRoom],
    losses: Sequence[PoolLoss],
    policies: tuple[str, ...] = POLICIES,
    replace_after_s: float = DEFAULT_REPLACE_AFTER_S,
) -> PoolLossResult:
    """The usual replay of `policies`, and each of them but the oracle again on `pools` through
    `losses`: GPU-hours, cost and SLO attainment over the whole replay and within the losses."""
    problems = check_losses(losses, pools, trace.span_s)
    if problems:
        raise PoolLossError("; ".join(problems))
    baseline = prepare_run(trace, settings, policies)
    normal = run_policies(baseline, trace, policies)
    run = prepare_run(trace, settings, policies)
    total = len(run.work)
    index = {p.name: i for i, p in enumerate(pools)}
    windows = tuple(loss.bins(run.bin_s, total) for loss in losses)
    lost: dict[int, list[int]] = {}
    returned: dict[int, list[int]] = {}
    for loss, (first, end) in zip(losses, windows, strict=True):
        lost.setdefault(first, []).append(index[loss.pool])
        if end < total:
            returned.setdefault(end, []).append(index[loss.pool])
    replace_bins = math.ceil(replace_after_s / run.bin_s - 1e-9)

    def fleet() -> PoolFleet:
        return PoolFleet(tuple(pools), run.startup_bins, lost, returned, replace_bins)

    run.fleet = fleet
    through = run_policies(run, trace, tuple(p for p in policies if p in LOSS_POLICIES))
    scored = _union(windows)
    out: dict[str, LossPolicyResult] = {}
    for name, result in through.policies.items():
        met = met_feasible = requests = feasible = 0.0
        for first, end in scored:
            share, share_feasible = run.attainment_between(result, first, end)
            count, count_feasible = run.requests_between(first, end)
            met += share * count
            met_feasible += share_feasible * count_feasible
            requests += count
            feasible += count_feasible
        out[name] = LossPolicyResult(
            result,
            met / requests if requests > 0 else 1.0,
            met_feasible / feasible if feasible > 0 else 1.0,
        )
    return PoolLossResult(normal, tuple(losses), tuple(pools), windows, out, replace_after_s)


def _union(windows: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The bins any loss covers, as disjoint ranges (two pools lost at once count once)."""
    merged: list[tuple[int, int]] = []
    for first, end in sorted(windows):
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((first, end))
    return merged


_NUMBER = r"(\d+(?:\.\d+)?)"
_DURATION = re.compile(rf"^(?:{_NUMBER}d)?(?:{_NUMBER}h)?(?:{_NUMBER}m)?(?:{_NUMBER}s)?$")
_EXAMPLE = "e.g. l4-spot@6h, l4-spot@6h+6h, l4-spot@2024-01-01T06:00:00Z+30m or l4-spot@21600"


def parse_duration_s(text: str) -> float | None:
    """Seconds in `6h`, `90m`, `1h30m`, `2d`, `45s` or a plain number of seconds; None if neither."""
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        return value if math.isfinite(value) else None
    match = _DURATION.match(text)
    if not text or match is None:
        return None
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


def parse_loss(text: str, trace_start_epoch_s: float) -> PoolLoss:
    """`NAME@T` or `NAME@T+DURATION`: T after the trace start (`6h`, seconds) or a wall-clock time
    (ISO 8601, UTC unless it says otherwise); without a duration the pool stays lost."""
    from datetime import UTC, datetime

    pool, at, when = text.partition("@")
    if not at or not pool or not when:
        raise PoolLossError(f"--lose-pool {text!r} is not NAME@TIME[+DURATION]. Fix: write it as {_EXAMPLE}")
    duration_s = None
    head, plus, tail = when.rpartition("+")
    if plus and head and parse_duration_s(tail) is not None:
        when, duration_s = head, parse_duration_s(tail)
        if duration_s is not None and duration_s <= 0:
            raise PoolLossError(
                f"--lose-pool {text!r}: the duration {tail!r} must be positive. Fix: e.g. +6h"
            )
    at_s = parse_duration_s(when)
    if at_s is None:
        try:
            moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            raise PoolLossError(
                f"--lose-pool {text!r}: {when!r} is neither a time after the trace start nor an ISO 8601 "
                f"time. Fix: write it as {_EXAMPLE}"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        at_s = moment.timestamp() - trace_start_epoch_s
    return PoolLoss(pool, at_s, duration_s)
