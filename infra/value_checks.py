"""Single-value checks of the stack config (pure Python), as pydantic validators with a fix.

Each raises the same `llmops` error kind `llmops.infra.config` translates into a `Problem`, so a value
is reported with its key path, what is wrong and the fix.
"""

from __future__ import annotations

import difflib
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated

from llmops.components.cron import EXAMPLE, cron_problem, known_timezones, timezone_problem
from llmops.components.kube_names import QUANTITY
from llmops.components.labels import label_key_problem, label_value_problem
from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError


def fail(message: str, fix: str) -> PydanticCustomError:
    return PydanticCustomError("llmops", "{message}", {"message": message, "fix": fix})


def _cron(value: str) -> str:
    problem = cron_problem(value)
    if problem is not None:
        raise fail(problem, f"write it like {EXAMPLE}; names JAN-DEC and SUN-SAT are allowed")
    return value


def _timezone(value: str) -> str:
    if timezone_problem(value) is not None:
        close = difflib.get_close_matches(value, sorted(known_timezones()), n=1, cutoff=0.6)
        fix = f"did you mean {close[0]!r}?" if close else "use an IANA name such as 'Europe/Berlin' or 'UTC'"
        raise fail("is not an IANA time zone", fix)
    return value


Cron = Annotated[str, AfterValidator(_cron)]
TimeZone = Annotated[str, AfterValidator(_timezone)]

_SUFFIX = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "m": Decimal("0.001"),
}
_SPLIT = re.compile(r"^(?P<number>[0-9]+(?:\.[0-9]+)?)(?P<suffix>[A-Za-z]*)$")


def quantity_value(text: str) -> Decimal:
    """A Kubernetes quantity as a number (bytes for memory)."""
    match = _SPLIT.match(text)
    if match is None or match["suffix"] not in _SUFFIX:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    try:
        return Decimal(match["number"]) * Decimal(_SUFFIX[match["suffix"]])
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a Kubernetes quantity") from None


MIN_BYTES = 2**20


def _bytes(value: str) -> str:
    if not QUANTITY.match(value):
        raise fail("is not a Kubernetes quantity", "write it like '16Gi' or '512Mi'")
    suffix = _SPLIT.match(value)["suffix"]  # type: ignore[index]
    if suffix in ("", "m"):
        number = value.rstrip("m")
        raise fail(
            "has no byte unit, so Kubernetes reads it as "
            + ("thousandths of a byte" if suffix == "m" else f"{number} bytes"),
            f"write it with a unit, e.g. '{number}Gi' for {number} GiB or '{number}Mi' for {number} MiB",
        )
    if quantity_value(value) < MIN_BYTES:
        raise fail("is less than 1Mi", "write a size such as '512Mi' or '16Gi'")
    return value


def _number_as_text(value: object) -> object:
    # `memory: 16` is a YAML number; it gets the unit check (and its fix), not "not a string".
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


ByteQuantity = Annotated[str, BeforeValidator(_number_as_text), AfterValidator(_bytes)]
"""A memory or storage size: a quantity with a byte unit, at least 1Mi."""


def _label_key(value: str) -> str:
    problem = label_key_problem(value)
    if problem is not None:
        raise fail(problem, "use a key such as 'team' or 'example.com/team'")
    return value


def _label_value(value: str) -> str:
    problem = label_value_problem(value)
    if problem is not None:
        cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", value)[:63].strip("-_.") or "value"
        raise fail(problem, f"use a value such as {cleaned!r}")
    return value


LabelKey = Annotated[str, AfterValidator(_label_key)]
LabelValue = Annotated[str, AfterValidator(_label_value)]

# vLLM puts the served name into its metrics' model_name label; llmops puts that into PromQL
# string literals and rule names. Quotes, backslashes, braces and spaces would break them.
_SERVED_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$")


def served_name_problem(value: str) -> str | None:
    if _SERVED_NAME.match(value):
        return None
    return "cannot be used in PromQL label matchers (letters, digits and . _ : / @ + - only, at most 128)"


def _served_name(value: str) -> str:
    if served_name_problem(value) is not None:
        cleaned = re.sub(r"[^A-Za-z0-9._:/@+-]+", "-", value).strip("-")[:128] or "model"
        raise fail(served_name_problem(value) or "", f"use a name such as {cleaned!r}")
    return value


ServedName = Annotated[str, AfterValidator(_served_name)]


_K3S_VERSION = re.compile(r"^v[0-9]+\.[0-9]+\.[0-9]+(-rc[0-9]+)?\+k3s[0-9]+$")


def _k3s_version(value: str) -> str:
    if not _K3S_VERSION.match(value):
        raise fail(
            "is not a K3s release tag", "write it like 'v1.33.5+k3s1' (see github.com/k3s-io/k3s/releases)"
        )
    return value


K3sVersion = Annotated[str, AfterValidator(_k3s_version)]
