"""Pool schedules as managed-instance-group autoscaler scaling schedules. Pure Python.

A pool's `schedules` are windows: each one sets the pool's size from its cron until the next
window of the pool starts (ASG scheduled actions behave this way, and so does the cost model).
A MIG scaling schedule is instead "at least N instances for D seconds from each cron start".
So every window with a desired size above zero becomes scaling schedules whose duration runs
to the next window's start; the window with the next start is found on a weekly clock, and a
window whose starts are followed by different gaps (08:00 Monday-Friday until 20:00, Saturday
until Monday) is split into one scaling schedule per gap. A window's max has no MIG
equivalent: the autoscaler's max is the pool's max.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from llmops.components.cron import DAY_NUMBERS, expand
from llmops.components.k3s.pool import ScalingSchedule

MINUTES_PER_WEEK = 7 * 24 * 60
MIN_DURATION_S = 300
"""The shortest scaling schedule the MIG autoscaler accepts."""
_DAY_SPELLING = tuple(DAY_NUMBERS)


@dataclass(frozen=True)
class MigScalingSchedule:
    """One `autoscalingPolicy.scalingSchedules` entry."""

    name: str
    schedule: str
    """Cron of the starts (minute hour * * days)."""
    duration_sec: int
    min_required_replicas: int
    time_zone: str


def fire_minutes(recurrence: str) -> set[int]:
    """Minutes of the week (Sunday 00:00 = 0) at which a five-field cron fires."""
    fields = recurrence.split()
    if len(fields) != 5:
        raise ValueError("is not a five-field cron expression")
    minute, hour, day_of_month, month, weekday = fields
    if day_of_month != "*" or month != "*":
        raise ValueError("sets day of month or month; MIG windows here repeat weekly, use '*' for both")
    minutes = expand(minute, 0, 59)
    hours = expand(hour, 0, 23)
    days = {d % 7 for d in expand(weekday, 0, 7, DAY_NUMBERS)}
    return {day * 1440 + h * 60 + m for day in days for h in hours for m in minutes}


def schedule_problems(schedules: Sequence[ScalingSchedule], *, path: str = "args") -> list[str]:
    """What the MIG autoscaler cannot express, in the project's message style."""
    problems: list[str] = []
    zones = {s.time_zone for s in schedules}
    if len(zones) > 1:
        problems.append(
            f"{path}.schedules: time zones {sorted(zones)} differ; one pool's windows follow each other "
            "on one clock, so give them all the same time zone"
        )
    for index, schedule in enumerate(schedules):
        try:
            fire_minutes(schedule.recurrence)
        except (ValueError, KeyError) as exc:
            problems.append(
                f"{path}.schedules[{index}].recurrence: {schedule.recurrence!r} {exc}; "
                "write e.g. '0 8 * * MON-FRI'"
            )
    return problems


def _days_field(days: Sequence[int]) -> str:
    return "*" if len(days) == 7 else ",".join(_DAY_SPELLING[d] for d in sorted(days))


def mig_scaling_schedules(schedules: Sequence[ScalingSchedule]) -> list[MigScalingSchedule]:
    """The scaling schedules that hold each window's desired size until the next window starts."""
    starts: dict[int, int] = {}
    for index, schedule in enumerate(schedules):
        for minute in fire_minutes(schedule.recurrence):
            starts[minute] = index  # two windows at one minute: the later one wins, as in the cost model
    ordered = sorted(starts)
    result: list[MigScalingSchedule] = []
    for index, schedule in enumerate(schedules):
        if schedule.desired_size <= 0:
            continue  # the autoscaler's own min holds outside the scaling schedules
        groups: dict[tuple[int, int], list[int]] = defaultdict(list)  # (time of day, gap) -> days
        for position, minute in enumerate(ordered):
            if starts[minute] != index:
                continue
            following = ordered[(position + 1) % len(ordered)]
            gap = (following - minute) % MINUTES_PER_WEEK or MINUTES_PER_WEEK
            groups[(minute % 1440, gap)].append(minute // 1440)
        for number, ((time_of_day, gap), days) in enumerate(sorted(groups.items())):
            name = schedule.name if len(groups) == 1 else f"{schedule.name}-{number}"
            result.append(
                MigScalingSchedule(
                    name=name,
                    schedule=f"{time_of_day % 60} {time_of_day // 60} * * {_days_field(days)}",
                    duration_sec=max(gap * 60, MIN_DURATION_S),
                    min_required_replicas=schedule.desired_size,
                    time_zone=schedule.time_zone,
                )
            )
    return result
