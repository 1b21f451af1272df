"""A pool lost mid-replay: placement by preference and size, the drop, and the recovery."""

from __future__ import annotations

import numpy as np
import pytest
from llmops.components.capacity.failover import (
    PoolFleet,
    PoolLoss,
    PoolLossError,
    PoolRoom,
    check_losses,
    parse_duration_s,
    parse_loss,
    replay_pool_loss,
)
from llmops.components.capacity.replay import ReplaySettings, replay

from tests.components.capacity.test_replay import MODEL, minute_trace

# H100 serving the 8B model: a flat load that needs a few replicas (the static size below).
SETTINGS = ReplaySettings(MODEL, "H100", startup_s=120, usd_per_gpu_hour=2.0, max_replicas=12)
HOURS = 6
LOAD = [3000.0] * (HOURS * 60)
LOSS = PoolLoss("spot", at_s=2 * 3600, duration_s=2 * 3600)
POLICIES = ("static", "hpa", "deployed")


def static_size() -> int:
    return replay(minute_trace(LOAD), SETTINGS, ("static",)).policies["static"].peak_replicas


def test_the_load_needs_more_than_one_replica() -> None:
    assert static_size() >= 2


def test_with_no_surviving_capacity_the_loss_window_fails() -> None:
    outcome = replay_pool_loss(minute_trace(LOAD), SETTINGS, [PoolRoom("spot", 12)], [LOSS], POLICIES)
    for name in POLICIES:
        through = outcome.policies[name]
        assert outcome.baseline.policies[name].slo_attainment_feasible > 0.999
        assert through.window_attainment_feasible < 0.01, name
        # The pool is back at 4 h: the replicas return one start-up later and the backlog drains.
        assert through.result.slo_attainment_feasible < 0.75
        assert through.result.ready[-1] >= static_size()


def test_with_enough_headroom_elsewhere_attainment_recovers_after_the_start_up() -> None:
    size = static_size()
    pools = [PoolRoom("spot", 12), PoolRoom("on-demand", 12)]
    outcome = replay_pool_loss(minute_trace(LOAD), SETTINGS, pools, [LOSS], POLICIES)
    first, end = outcome.windows[0]
    for name in POLICIES:
        through = outcome.policies[name]
        ready = through.result.ready
        # At the loss every replica is gone; nothing is ready for at least one start-up time (2 bins);
        # the replacements (after 80 s, 2 bins) are ready by 4 bins, or sooner where the autoscaler
        # added replicas on the survivor at once.
        assert np.all(ready[first : first + 2] == 0), name
        back = first + 2 + 2
        assert ready[back] >= size, name
        # A few minutes' drop, then full attainment for the rest of the window.
        assert 0.9 < through.window_attainment_feasible < 1.0, name
        assert through.result.slo_attainment_feasible > 0.97, name
        assert np.all(ready[back + 10 : end] >= size), name


def test_too_little_headroom_elsewhere_shows_in_the_window() -> None:
    size = static_size()
    roomy = [PoolRoom("spot", 12), PoolRoom("on-demand", 12)]
    tight = [PoolRoom("spot", 12), PoolRoom("on-demand", size - 1)]
    trace = minute_trace(LOAD)
    enough = replay_pool_loss(trace, SETTINGS, roomy, [LOSS], ("deployed",)).policies["deployed"]
    short = replay_pool_loss(trace, SETTINGS, tight, [LOSS], ("deployed",)).policies["deployed"]
    first, end = replay_pool_loss(trace, SETTINGS, tight, [LOSS], ("deployed",)).windows[0]
    # Never more ready than the survivor holds while the spot pool is gone.
    assert short.result.ready[first:end].max() <= size - 1
    assert short.window_attainment_feasible < enough.window_attainment_feasible - 0.3


def test_a_loss_to_the_end_keeps_the_pool_empty() -> None:
    pools = [PoolRoom("spot", 12), PoolRoom("on-demand", 12)]
    loss = PoolLoss("spot", at_s=3 * 3600)
    outcome = replay_pool_loss(minute_trace(LOAD), SETTINGS, pools, [loss], ("static",))
    assert outcome.windows == ((180, HOURS * 60),)
    assert outcome.policies["static"].result.ready[-1] == static_size()


def test_the_fleet_fills_pools_in_order_and_moves_lost_replicas() -> None:
    fleet = PoolFleet(
        [PoolRoom("a", 2), PoolRoom("b", 3), PoolRoom("c", 10)],
        startup_bins=2,
        lost={5: [0]},
        returned={9: [0]},
        replace_after_bins=1,
    )
    fleet.start(4)
    assert fleet.provisioned_on() == [2, 2, 0] and fleet.ready == 4
    fleet.scale(0, 7)  # three more: one fits b, two go to c
    assert fleet.provisioned_on() == [2, 3, 2] and fleet.ready == 4
    for t in range(1, 5):
        fleet.begin_bin(t)
    assert fleet.ready == 7
    fleet.begin_bin(5)  # a is lost: its two replicas stop at once and wait one bin to be replaced
    assert fleet.provisioned_on() == [0, 3, 2] and fleet.desired == 7
    fleet.begin_bin(6)
    assert fleet.provisioned_on() == [0, 3, 4] and fleet.ready == 5
    fleet.begin_bin(7)
    fleet.begin_bin(8)
    assert fleet.ready == 7
    fleet.begin_bin(9)  # a is back; nothing moves by itself
    fleet.scale(9, 9)
    assert fleet.provisioned_on() == [2, 3, 4]
    fleet.scale(9, 5)  # down: starting ones first, then the least preferred pool
    assert fleet.provisioned_on() == [0, 3, 2]


def test_a_full_fleet_keeps_the_rest_waiting_until_a_pool_returns() -> None:
    fleet = PoolFleet([PoolRoom("a", 2), PoolRoom("b", 1)], 0, {1: [0]}, {3: [0]}, 0)
    fleet.start(3)
    fleet.begin_bin(1)
    assert fleet.ready == 1 and fleet.desired == 3
    fleet.begin_bin(2)
    assert fleet.ready == 1
    fleet.begin_bin(3)
    assert fleet.ready == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("spot@6h", PoolLoss("spot", 21600)),
        ("spot@6h+6h", PoolLoss("spot", 21600, 21600)),
        ("spot@3600+90m", PoolLoss("spot", 3600, 5400)),
        ("spot@2024-01-01T06:00:00Z+1h30m", PoolLoss("spot", 21600, 5400)),
        ("spot@2024-01-01T07:00:00+01:00", PoolLoss("spot", 21600)),
        ("spot@1d", PoolLoss("spot", 86400)),
    ],
)
def test_loss_flags_parse(text: str, expected: PoolLoss) -> None:
    assert parse_loss(text, 1_704_067_200.0) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("spot", "'spot' is not NAME@TIME[+DURATION]. Fix: write it as e.g. l4-spot@6h"),
        ("@6h", "is not NAME@TIME[+DURATION]"),
        ("spot@soon", "'soon' is neither a time after the trace start nor an ISO 8601 time"),
        ("spot@6h+0m", "the duration '0m' must be positive"),
        ("spot@nan", "'nan' is neither"),
    ],
)
def test_bad_loss_flags_say_what_to_write(text: str, message: str) -> None:
    with pytest.raises(PoolLossError, match=None) as raised:
        parse_loss(text, 0.0)
    assert message in str(raised.value)


def test_losses_that_cannot_apply_are_named() -> None:
    pools = [PoolRoom("spot", 4), PoolRoom("on-demand", 2)]
    problems = check_losses(
        [
            PoolLoss("gpu", 10),
            PoolLoss("spot", 7200),
            PoolLoss("spot", 100, 3600),
            PoolLoss("spot", 3000),
        ],
        pools,
        3600,
    )
    assert problems[0].startswith(
        "--lose-pool gpu@10s: 'gpu' is not one of the model's pools (spot, on-demand)"
    )
    assert "--lose-pool spot@7200s: the loss starts outside the trace (0 to 3600 s)" in problems[1]
    assert any("the losses at 100 s and 3000 s overlap" in p for p in problems)
    with pytest.raises(PoolLossError, match="is not one of the model's pools"):
        replay_pool_loss(minute_trace([10.0] * 60), SETTINGS, pools, [PoolLoss("gpu", 10)])


def test_durations() -> None:
    assert parse_duration_s("2d6h") == 2 * 86400 + 6 * 3600
    assert parse_duration_s("45s") == 45
    assert parse_duration_s("") is None and parse_duration_s("6x") is None


def test_spread_pools_take_replicas_in_turn_and_a_loss_takes_only_its_share() -> None:
    spread = PoolFleet([PoolRoom("a", 4, 0), PoolRoom("b", 4, 0), PoolRoom("c", 4, 1)], 1, {1: [0]}, {}, 2)
    spread.start(5)
    assert spread.provisioned_on() == [3, 2, 0]
    spread.begin_bin(1)
    assert spread.ready == 2  # b's share keeps serving
    ordered = PoolFleet([PoolRoom("a", 4), PoolRoom("b", 4), PoolRoom("c", 4)], 1, {1: [0]}, {}, 2)
    ordered.start(5)
    assert ordered.provisioned_on() == [4, 1, 0]
    ordered.begin_bin(1)
    assert ordered.ready == 1


def test_spread_pools_fill_each_to_its_max_then_the_fallback_and_shrink_evenly() -> None:
    fleet = PoolFleet([PoolRoom("a", 1, 0), PoolRoom("b", 3, 0), PoolRoom("c", 4, 1)], 0, {}, {}, 0)
    fleet.start(6)
    assert fleet.provisioned_on() == [1, 3, 2]
    fleet.scale(0, 3)  # the fallback first, then the fuller spread pool
    assert fleet.provisioned_on() == [1, 2, 0]


def test_losing_one_of_two_spread_pools_keeps_about_half_serving() -> None:
    size = static_size()
    trace = minute_trace(LOAD)
    spread = [PoolRoom("spot", 12, 0), PoolRoom("spot-b", 12, 0)]
    ordered = [PoolRoom("spot", 12), PoolRoom("spot-b", 12)]
    even = replay_pool_loss(trace, SETTINGS, spread, [LOSS], ("static",))
    first = replay_pool_loss(trace, SETTINGS, ordered, [LOSS], ("static",))
    (window,) = even.windows
    kept = even.policies["static"].result.ready[window[0]]
    assert size // 2 <= kept <= (size + 1) // 2
    assert first.policies["static"].result.ready[window[0]] == 0
    assert even.policies["static"].window_attainment > first.policies["static"].window_attainment
