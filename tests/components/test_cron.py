"""Cron fields: every expression the validator accepts is one the cost model can evaluate."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llmops.components.cron import DAY_NUMBERS, cron_problem, expand, timezone_problem

atoms = st.sampled_from(["*", "0", "1", "5", "7", "23", "59", "60", "MON", "fri", "JAN", "x", "", "-1"])
items = st.builds(
    lambda a, b, step: a + (f"-{b}" if b else "") + (f"/{step}" if step is not None else ""),
    atoms,
    st.sampled_from(["", "5", "FRI", "0", "99"]),
    st.none() | st.integers(0, 70),
)
fields = st.lists(items, min_size=1, max_size=3).map(",".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(fields, min_size=4, max_size=6).map(" ".join))
def test_accepted_expressions_evaluate(expression: str) -> None:
    if cron_problem(expression) is not None:
        return
    minute, hour, _, _, weekday = expression.split()
    hours = expand(hour, 0, 23)
    days = expand(weekday, 0, 7, DAY_NUMBERS)
    assert hours and hours <= set(range(24))
    assert days and days <= set(range(8))
    assert expand(minute, 0, 59) <= set(range(60))


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("0 8 * * 1-5", None),
        ("30 6 1,15 JAN-JUN MON-FRI", None),
        ("0 8 * * 7", "is not a valid cron expression: day of week 7 is outside 0-6; Sunday is 0"),
        ("0 8 * * MONDAY", "is not a valid cron expression: 'MONDAY' is not a day of week (0-6 or SUN-SAT)"),
        ("0 8 32 * *", "is not a valid cron expression: day of month 32 is outside 1-31"),
        ("0 8 * FOO *", "is not a valid cron expression: 'FOO' is not a month (1-12 or JAN-DEC)"),
        ("0 8 * * */8", "is not a valid cron expression: day of week step /8 must be between 1 and 7"),
        ("0 8 * *", "is not a 5-field cron expression (minute hour day-of-month month day-of-week)"),
    ],
)
def test_messages(expression: str, problem: str | None) -> None:
    assert cron_problem(expression) == problem


def test_time_zones() -> None:
    assert timezone_problem("Europe/Berlin") is None
    assert timezone_problem("UTC") is None
    assert timezone_problem("Mars/Olympus") == "is not an IANA time zone"
