"""The predictive rule's numpy twin on hand-made series (the Prometheus cross-check is slow)."""

from __future__ import annotations

import numpy as np
import pytest
from llmops.components.capacity.promql import PredictiveRule, forecast


def test_a_step_up_is_held_as_headroom_for_the_rise_window() -> None:
    # Demand steps from 10 to 20 at minute 30. Each look-ahead interval (4 minutes) ending at
    # minutes 30-33 rose by 10; the rule remembers that rise for 6 minutes after the last of them.
    demand = np.array([10.0] * 30 + [20.0] * 30)
    predicted = forecast(demand, 60, 240, rise_window_s=360)
    np.testing.assert_array_equal(predicted[:30], 10.0)
    np.testing.assert_array_equal(predicted[30:40], 30.0)
    np.testing.assert_array_equal(predicted[40:], 20.0)


def test_the_rise_over_the_latest_interval_alone_is_the_trend_term() -> None:
    rng = np.random.default_rng(7)
    demand = rng.uniform(0, 50, 500)
    trend = np.maximum(demand, np.concatenate([demand[:4], 2 * demand[4:] - demand[:-4]]))
    np.testing.assert_allclose(forecast(demand, 60, 240, rise_window_s=0), trend)


def test_falling_demand_adds_no_headroom() -> None:
    demand = np.linspace(100, 0, 200)
    np.testing.assert_array_equal(forecast(demand, 60, 240), demand)


def test_the_rise_samples_at_the_rule_interval_on_a_finer_series() -> None:
    # A one-sample spike in a 5 s series: the rule, sampling every 30 s, sees it only where a
    # sample lands on it.
    demand = np.zeros(400)
    demand[200] = 6.0
    every_bin = forecast(demand, 5, 240, rise_window_s=360)
    every_rule = forecast(demand, 5, 240, rise_window_s=360, rise_step_s=30)
    assert every_bin[200] == every_rule[200] == 12.0  # the spike plus its own rise
    np.testing.assert_array_equal(every_bin[201:273], 6.0)
    assert every_rule[201] == 0.0  # 5 s later no sample 30 s apart lands on the spike
    assert every_rule[206] == 6.0  # 30 s later one does


def test_rule_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="multiple of step_s"):
        PredictiveRule(240, rise_window_s=100, step_s=30)
    assert "[375s:30s]" in PredictiveRule(240).expression()
