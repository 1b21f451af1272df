"""Pool windows as MIG scaling schedules: the floor they set equals the window's size at every hour."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llmops.components.gcp.schedules import (
    MINUTES_PER_WEEK,
    fire_minutes,
    mig_scaling_schedules,
    schedule_problems,
)
from llmops.components.k3s.pool import ScalingSchedule

DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


def _window_sizes(schedules: list[ScalingSchedule]) -> list[int]:
    """Size at each hour of the week when each window holds until the next one starts."""
    starts: dict[int, int] = {}
    for schedule in schedules:
        for minute in fire_minutes(schedule.recurrence):
            starts[minute] = schedule.desired_size
    last = starts[max(starts)]
    sizes = []
    for minute in range(0, MINUTES_PER_WEEK, 60):
        last = starts.get(minute, last)
        sizes.append(last)
    return sizes


def _mig_floor(schedules: list[ScalingSchedule]) -> list[int]:
    floor = [0] * (MINUTES_PER_WEEK // 60)
    for mig in mig_scaling_schedules(schedules):
        for start in fire_minutes(mig.schedule):
            for minute in range(start, start + mig.duration_sec // 60, 60):
                hour = (minute % MINUTES_PER_WEEK) // 60
                floor[hour] = max(floor[hour], mig.min_required_replicas)
    return floor


@st.composite
def _windows(draw: st.DrawFn) -> list[ScalingSchedule]:
    count = draw(st.integers(1, 4))
    result = []
    for index in range(count):
        hour = draw(st.integers(0, 23))
        days = draw(st.sets(st.sampled_from(DAYS), min_size=1, max_size=7))
        desired = draw(st.integers(0, 3))
        result.append(
            ScalingSchedule(
                name=f"w{index}",
                recurrence=f"0 {hour} * * {','.join(sorted(days))}",
                min_size=0,
                max_size=3,
                desired_size=desired,
            )
        )
    return result


@settings(max_examples=60, deadline=None)
@given(_windows())
def test_floor_equals_the_window_size_at_every_hour(schedules: list[ScalingSchedule]) -> None:
    assert _mig_floor(schedules) == _window_sizes(schedules)


def test_workday_and_weekend() -> None:
    schedules = [
        ScalingSchedule(name="workday", recurrence="0 8 * * MON-FRI", min_size=1, max_size=4, desired_size=2),
        ScalingSchedule(
            name="evening", recurrence="0 18 * * MON-FRI", min_size=0, max_size=4, desired_size=1
        ),
    ]
    migs = mig_scaling_schedules(schedules)
    by_name = {m.name: m for m in migs}
    assert by_name["workday"].schedule == "0 8 * * MON,TUE,WED,THU,FRI"
    assert by_name["workday"].duration_sec == 10 * 3600
    # Friday's evening runs until Monday 08:00; the other evenings until the next morning.
    assert {(m.schedule, m.duration_sec) for m in migs if m.name.startswith("evening")} == {
        ("0 18 * * MON,TUE,WED,THU", 14 * 3600),
        ("0 18 * * FRI", (2 * 24 + 14) * 3600),
    }


@pytest.mark.parametrize(
    ("recurrence", "zone", "expected"),
    [
        ("0 8 1 * *", "UTC", "args.schedules[0].recurrence: '0 8 1 * *' sets day of month or month"),
        ("0 25 * * *", "UTC", "args.schedules[0].recurrence: '0 25 * * *' '25' is outside 0..23"),
    ],
)
def test_schedule_problems(recurrence: str, zone: str, expected: str) -> None:
    schedules = [
        ScalingSchedule(
            name="a", recurrence=recurrence, min_size=0, max_size=1, desired_size=1, time_zone=zone
        )
    ]
    assert any(expected in p for p in schedule_problems(schedules)), schedule_problems(schedules)


def test_mixed_time_zones_are_refused() -> None:
    schedules = [
        ScalingSchedule(
            name="a", recurrence="0 8 * * *", min_size=0, max_size=1, desired_size=1, time_zone="UTC"
        ),
        ScalingSchedule(
            name="b",
            recurrence="0 9 * * *",
            min_size=0,
            max_size=1,
            desired_size=0,
            time_zone="Europe/Berlin",
        ),
    ]
    assert "time zones ['Europe/Berlin', 'UTC'] differ" in schedule_problems(schedules)[0]
