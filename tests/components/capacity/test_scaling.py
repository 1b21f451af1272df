"""The deployed policy: the HPA loop over the ScaledObject's triggers, cron windows, and its replay."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import numpy as np
import pytest
from llmops.components.capacity.autoscalers import HpaParams, KedaWaitingParams
from llmops.components.capacity.replay import ReplaySettings, deployed_forecast, replay
from llmops.components.capacity.scaling import (
    AutoscalingSpec,
    CronWindow,
    DemandRule,
    HpaLoop,
    TriggerValues,
)
from llmops.components.capacity.traces import Trace

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
# 10 requests in flight per replica; no predictive trigger unless a test adds it.
SPEC = AutoscalingSpec(min_replicas=1, max_replicas=10, target=0.5, working_batch=20, predictive=False)


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_hpa_defaults_have_one_source() -> None:
    spec, hpa = AutoscalingSpec(), HpaParams()
    assert hpa.tolerance == spec.tolerance == KedaWaitingParams().tolerance
    assert hpa.sync_period_s == spec.hpa_sync_period_s
    assert hpa.scale_down_stabilization_s == spec.scale_down_window_s


def test_scale_up_is_immediate_and_scale_down_waits_out_the_window() -> None:
    spec = dataclasses.replace(SPEC, scale_down_window_s=60)
    loop = HpaLoop(spec, initial=2)
    assert loop.step(15, 2, TriggerValues(in_flight=65.0)) == 7  # ceil(65 / 10), at once
    # The load falls away: the window still holds 7 until its recommendation is 60 s old.
    assert loop.step(30, 7, TriggerValues(in_flight=0.0)) == 7
    assert loop.step(60, 7, TriggerValues(in_flight=0.0)) == 7
    assert loop.step(75, 7, TriggerValues(in_flight=0.0)) == 1
    # Never above maxReplicas, never below minReplicas.
    assert loop.step(90, 1, TriggerValues(in_flight=10_000.0)) == 10


def test_the_window_starts_out_holding_the_size_found() -> None:
    loop = HpaLoop(dataclasses.replace(SPEC, scale_down_window_s=300), initial=4)
    assert loop.step(15, 4, TriggerValues(in_flight=0.0)) == 4
    assert loop.step(301, 4, TriggerValues(in_flight=0.0)) == 1


def test_tolerance_keeps_the_size_on_every_trigger() -> None:
    spec = dataclasses.replace(
        SPEC, max_replicas=12, windows=(CronWindow("day", "08:00", "19:00", replicas=10),)
    )
    # 105 in flight over 11 replicas is 4.5 % below target: the reactive trigger keeps 11.
    assert HpaLoop(spec, initial=11).step(15, 11, TriggerValues(in_flight=105.0)) == 11
    # 80 in flight asks for 8, but the window's 10 over 11 replicas is 9 % below its target of 1.
    assert HpaLoop(spec, initial=11).step(15, 11, TriggerValues(80.0, active_windows=("day",))) == 11
    # Outside the window the same load goes down to 8 once the stabilisation window lets it.
    loop = HpaLoop(dataclasses.replace(spec, scale_down_window_s=0), initial=11)
    assert loop.step(15, 11, TriggerValues(in_flight=80.0)) == 8


def test_cron_windows_follow_local_time_and_days() -> None:
    workday = CronWindow("workday", "08:00", "19:00", replicas=2, timezone="Europe/Berlin", days="1-5")
    assert not workday.is_open(epoch("2024-01-01T06:59:00"))  # Monday 07:59 in Berlin (CET)
    assert workday.is_open(epoch("2024-01-01T07:00:00"))
    assert not workday.is_open(epoch("2024-01-01T18:00:00"))  # 19:00 closes it
    assert workday.is_open(epoch("2024-07-01T06:00:00"))  # CEST: 08:00 is 06:00 UTC
    assert not workday.is_open(epoch("2024-01-06T10:00:00"))  # Saturday
    late = CronWindow("late", "20:00", "24:00", replicas=1, days="0,6")
    assert late.is_open(epoch("2024-01-07T23:58:00"))  # Sunday
    assert not late.is_open(epoch("2024-01-07T23:59:00"))  # 24:00 renders as 23:59
    assert late.is_open(epoch("2024-01-06T21:00:00"))  # Saturday


def minute_trace(requests: list[float], prompt: float = 500, output: float = 150) -> Trace:
    counts = np.asarray(requests, dtype=np.float64)
    return Trace("test", "minute", None, counts * prompt, counts * output, requests=counts, bin_s=60.0)


def settings(**changes: object) -> ReplaySettings:
    base = ReplaySettings(MODEL, "H100", startup_s=120, usd_per_gpu_hour=2.0)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


RULE = DemandRule(prefill_s_per_token=2.5e-5, decode_s_per_token=9e-5, startup_s=120)


def test_the_replay_runs_the_spec_it_is_given() -> None:
    spec = AutoscalingSpec(min_replicas=1, max_replicas=8, target=0.8, working_batch=256)
    result = replay(minute_trace([600.0] * 30), settings(deployed=spec, demand_rule=RULE), ("deployed",))
    assert result.deployed == (spec, RULE)
    assert result.parameters()["deployed"]["max_replicas"] == 8
    assert result.policies["deployed"].peak_replicas <= 8


def test_a_window_floor_holds_inside_the_window_only() -> None:
    spec = AutoscalingSpec(
        min_replicas=1,
        max_replicas=6,
        working_batch=256,
        predictive=False,
        windows=(CronWindow("morning", "01:00", "02:00", replicas=5),),
        scale_down_window_s=60,
    )
    # Three hours of a light load from 00:00 UTC: five replicas from 01:00 to 02:00.
    result = replay(minute_trace([60.0] * 180), settings(deployed=spec, demand_rule=RULE), ("deployed",))
    provisioned = result.policies["deployed"].provisioned
    assert provisioned[30] == 1
    assert set(provisioned[61:120].tolist()) == {5}
    assert provisioned[150] == 1
    later = replay(
        minute_trace([60.0] * 180),
        settings(deployed=spec, demand_rule=RULE, trace_start_epoch_s=epoch("2024-01-01T01:30:00")),
        ("deployed",),
    )
    assert later.policies["deployed"].provisioned[10] == 5 and later.policies["deployed"].provisioned[60] == 1


def test_a_longer_scale_down_window_costs_more_after_a_spike() -> None:
    load = [300.0] * 20 + [6000.0] * 10 + [300.0] * 60
    spec = AutoscalingSpec(min_replicas=1, max_replicas=12, working_batch=256, predictive=False)
    short = replay(
        minute_trace(load),
        settings(deployed=dataclasses.replace(spec, scale_down_window_s=60), demand_rule=RULE),
        ("deployed",),
    )
    long = replay(
        minute_trace(load),
        settings(deployed=dataclasses.replace(spec, scale_down_window_s=900), demand_rule=RULE),
        ("deployed",),
    )
    assert long.policies["deployed"].gpu_hours > short.policies["deployed"].gpu_hours


def test_the_predictive_trigger_reads_the_rules_forecast() -> None:
    """With the predictive trigger and a second day that repeats the first, the deployed policy is
    ready for the step before it comes; without it, only after a start-up."""
    day = [600.0] * 720 + [6000.0] * 720
    trace = minute_trace(day * 2)
    spec = AutoscalingSpec(min_replicas=1, max_replicas=12, working_batch=256, predictive=True)
    with_forecast = replay(trace, settings(deployed=spec, demand_rule=RULE), ("deployed", "oracle"))
    without = replay(
        trace,
        settings(deployed=dataclasses.replace(spec, predictive=False), demand_rule=RULE),
        ("deployed",),
    )
    jump = 1440 + 720
    assert with_forecast.policies["deployed"].ready[jump] >= with_forecast.policies["oracle"].ready[jump]
    assert without.policies["deployed"].ready[jump] < with_forecast.policies["deployed"].ready[jump]


def test_the_demand_record_uses_the_deployed_per_token_costs() -> None:
    from llmops.components.capacity.replay import _bin_load
    from llmops.components.capacity.throughput import Slo, TokenMix, replica_capacity, replica_perf

    trace = minute_trace([600.0] * 30)
    capacity = replica_capacity(replica_perf(MODEL, "H100"), TokenMix(500, 150), Slo())
    load = _bin_load(trace, capacity, 60.0, 2.0)
    assert load.bin_tokens is not None
    steady = deployed_forecast(*load.bin_tokens, RULE, 60.0)[-1]
    assert steady == pytest.approx(600 * (500 * 2.5e-5 + 150 * 9e-5) / 60)
    doubled = dataclasses.replace(RULE, decode_s_per_token=18e-5)
    assert deployed_forecast(*load.bin_tokens, doubled, 60.0)[-1] > steady
