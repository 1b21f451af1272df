"""Error translation: one pydantic validation error -> one `Problem` with key path, value and fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from llmops.components.errors import MISSING as _MISSING
from llmops.components.errors import Problem
from llmops.infra.config.models import ExistingClusterConfig, K3sClusterConfig, StackConfig
from pydantic import BaseModel


def _unknown_key(path: str, key: str, allowed: Iterable[str], prefix: str = "") -> Problem:
    allowed = sorted(allowed)
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    fix = f"did you mean {prefix + close[0]!r}?" if close else "remove it, or check the spelling"
    listing = ", ".join(allowed)
    return Problem(f"{prefix}{path}", _MISSING, f"unknown key (allowed here: {listing})", fix)


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for a bad mapping key; the key is already in the path
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_UNION_MEMBERS: dict[str, type[BaseModel]] = {"existing": ExistingClusterConfig, "k3s": K3sClusterConfig}


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the last key of `loc` (for allowed keys and descriptions)."""
    model: type[BaseModel] | None = StackConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if part in _UNION_MEMBERS:
            model = _UNION_MEMBERS[part]
            continue
        if model is None:
            return None
        fields = {(f.alias or n): f for n, f in model.model_fields.items()}
        field = fields.get(part)
        model = _inner_model(field.annotation) if field is not None else None
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for candidate in getattr(annotation, "__args__", ()):
        found = _inner_model(candidate)
        if found is not None:
            return found
    return None


def _field_description(loc: tuple[Any, ...]) -> str | None:
    model = _model_at(loc)
    if model is None:
        return None
    for name, field in model.model_fields.items():
        if (field.alias or name) == loc[-1]:
            return field.description
    return None


def _translate(err: Any, given: Mapping[str, Any]) -> Problem:
    """Turn one pydantic error into a Problem with a path, the value, what is allowed, and a fix."""
    loc = tuple(err["loc"])
    # Discriminated unions put the tag ('existing' / 'k3s') into the location; users never wrote it.
    clean_loc = tuple(p for p in loc if p not in _UNION_MEMBERS)
    path = _format_loc(clean_loc)
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input", _MISSING)
    from llmops.infra.secrets import holds_sensitive

    if holds_sensitive(path, value):
        value = _MISSING  # a secret's value never reaches a message

    if kind == "extra_forbidden":
        model = _model_at(loc)
        allowed = [(f.alias or n) for n, f in model.model_fields.items()] if model else []
        return _unknown_key(path, str(clean_loc[-1]), allowed)
    if kind == "missing":
        what = _field_description(loc)
        hint = f" ({what})" if what else ""
        return Problem(path, _MISSING, "is required but missing", f"add {clean_loc[-1]}{hint}")
    if kind in ("literal_error", "enum"):
        expected = ctx.get("expected", "")
        return Problem(path, value, f"is not one of {expected}", f"use one of {expected}")
    if kind == "union_tag_invalid":
        tags = ctx.get("expected_tags", "")
        return Problem(
            f"{path}.{ctx.get('discriminator', 'kind').strip(chr(39))}",
            ctx.get("tag", value),
            f"is not one of {tags}",
            "use 'existing' for a cluster you already have, or 'k3s' for one this stack creates",
        )
    if kind == "union_tag_not_found":
        return Problem(
            f"{path}.kind",
            _MISSING,
            "is required but missing",
            "add kind: existing (a cluster you have) or kind: k3s (one this stack creates)",
        )
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        symbol = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[
            kind
        ]
        bound = next(iter(ctx.values()))
        return Problem(
            path, value, f"must be {symbol} {bound}", f"set {clean_loc[-1]} to a value {symbol} {bound}"
        )
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return Problem(path, value, "is not a whole number", f"write {clean_loc[-1]} as an integer, e.g. 1")
    if kind in ("float_parsing", "float_type"):
        return Problem(path, value, "is not a number", f"write {clean_loc[-1]} as a number, e.g. 0.9")
    if kind in ("bool_parsing", "bool_type"):
        return Problem(path, value, "is not true or false", f"write {clean_loc[-1]}: true or false")
    if kind in ("string_type",):
        return Problem(path, value, "is not a string", f"write {clean_loc[-1]} as text")
    if kind in ("list_type", "tuple_type"):
        return Problem(path, value, "is not a list", f"write {clean_loc[-1]} as a YAML list ('- item' lines)")
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return Problem(path, value, "is not a mapping", f"write {clean_loc[-1]} as 'key: value' lines")
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return Problem(
            path, value, f"needs at least {n} item(s)", f"add at least {n} entry to {clean_loc[-1]}"
        )
    if kind == "llmops":
        return Problem(path, value, err["msg"], ctx.get("fix", "see docs/configuration.md"))
    return Problem(path, value, err["msg"], "see docs/configuration.md for what this key accepts")
