"""Five-field cron expressions and IANA time zones, checked field by field (pure Python).

The same expression drives ASG scheduled actions, the pods' cron scaling and the cost model, so
only the common subset is accepted: numbers, `*`, ranges `a-b`, lists `a,b` and steps `/n`,
with three-letter names for months (JAN-DEC) and weekdays (SUN-SAT). Weekdays run 0-6 (0 is
Sunday); `7` is not accepted because not every scheduler reads it as Sunday.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from dataclasses import dataclass


@dataclass(frozen=True)
class CronField:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    """Names for low, low+1, ... (months from 1, weekdays from 0)."""


FIELDS = (
    CronField("minute", 0, 59),
    CronField("hour", 0, 23),
    CronField("day of month", 1, 31),
    CronField(
        "month", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
    ),
    CronField("day of week", 0, 6, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")),
)
EXAMPLE = "'0 8 * * 1-5' (08:00 on weekdays)"
_ITEM = re.compile(r"^(?P<base>\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:/(?P<step>[0-9]+))?$")


def _value(text: str, spec: CronField) -> int:
    upper = text.upper()
    if spec.names and upper in spec.names:
        return spec.low + spec.names.index(upper)
    if not text.isdigit() or len(text) > 2:
        words = f" or {spec.names[0]}-{spec.names[-1]}" if spec.names else ""
        raise ValueError(f"{text!r} is not a {spec.name} ({spec.low}-{spec.high}{words})")
    value = int(text)
    if not spec.low <= value <= spec.high:
        hint = "; Sunday is 0" if spec.name == "day of week" and value == 7 else ""
        raise ValueError(f"{spec.name} {value} is outside {spec.low}-{spec.high}{hint}")
    return value


def field_problem(text: str, spec: CronField) -> str | None:
    """What is wrong with one field, or None."""
    for item in text.split(","):
        match = _ITEM.match(item)
        if match is None:
            return f"{spec.name} {text!r} is not a number, name, range, list or step"
        base, step = match["base"], match["step"]
        try:
            if base != "*":
                first, _, last = base.partition("-")
                start = _value(first, spec)
                if last and start > _value(last, spec):
                    return f"{spec.name} range {base!r} runs backwards"
        except ValueError as exc:
            return str(exc)
        if step is not None and not 1 <= int(step) <= spec.high - spec.low + 1:
            return f"{spec.name} step /{step} must be between 1 and {spec.high - spec.low + 1}"
    return None


def cron_problem(expression: str) -> str | None:
    """What is wrong with a cron expression (one message), or None."""
    fields = expression.split()
    if len(fields) != 5:
        return "is not a 5-field cron expression (minute hour day-of-month month day-of-week)"
    for text, spec in zip(fields, FIELDS, strict=True):
        problem = field_problem(text, spec)
        if problem is not None:
            return f"is not a valid cron expression: {problem}"
    return None


DAY_NUMBERS = {name: i for i, name in enumerate(FIELDS[4].names)}
"""Weekday names to cron numbers (SUN = 0)."""


def expand(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    """The values one cron field matches between `low` and `high`: `*`, `a`, `a-b`, lists, `/step`
    (a bare `a/step` runs to `high`), and `names`. Raises ValueError for a value outside the bounds
    or a range that runs backwards; `cron_problem` gives the full check."""

    def number(token: str) -> int:
        return names[token] if names and token in names else int(token)

    values: set[int] = set()
    for part in text.upper().split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, last = base.split("-", 1)
            start, end = number(first), number(last)
        else:
            start = number(base)
            end = high if step_text else start
        if start < low or end > high or start > end:
            raise ValueError(f"{part!r} is outside {low}..{high}")
        values.update(range(start, end + 1, step))
    return values


@functools.cache
def known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def timezone_problem(name: str) -> str | None:
    if name in known_timezones() or name == "UTC":
        return None
    return "is not an IANA time zone"
