"""The reactive baselines' parameters and decision rules."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llmops.components.capacity.autoscalers import HpaParams, KpaParams


def test_hpa_defaults_are_the_kubernetes_defaults_and_frozen() -> None:
    params = HpaParams()
    assert (params.tolerance, params.sync_period_s, params.scale_down_stabilization_s) == (0.1, 15.0, 300.0)
    assert (params.scale_up_percent, params.scale_up_pods, params.target_fraction) == (100.0, 4, 0.7)
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.tolerance = 0.2  # type: ignore[misc]
    assert KpaParams().panic_threshold == 2.0 and KpaParams().stable_window_s == 60.0


def test_hpa_holds_its_size_within_the_tolerance() -> None:
    params = HpaParams()
    # 10 replicas x 0.7 x 100 = 700 in flight is on target; 760 is within 10 %, 800 is not.
    assert params.recommend(760, 10, 100) == 10
    assert params.recommend(800, 10, 100) == 12
    assert params.recommend(100, 10, 100) == 2


@settings(max_examples=60, deadline=None)
@given(
    in_flight=st.floats(0, 1e5, allow_nan=False),
    extra=st.floats(0, 1e5, allow_nan=False),
    replicas=st.integers(1, 500),
    batch=st.integers(1, 512),
)
def test_more_requests_in_flight_never_recommend_fewer_replicas(
    in_flight: float, extra: float, replicas: int, batch: int
) -> None:
    params = HpaParams(tolerance=0.0)
    assert params.recommend(in_flight + extra, replicas, batch) >= params.recommend(
        in_flight, replicas, batch
    )
    assert params.scale_up_limit(replicas) >= replicas + 4
