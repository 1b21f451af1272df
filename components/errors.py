"""One problem type and one error class for every bad input: stack config and component args.

A `Problem` names the key path, the value given, what is wrong and the fix, and prints as
`<key path>: <value> <problem>. Fix: <fix>`. `InputError` carries every problem found in one
input, reported together (as pulumi-eks does with its `InputPropertiesError`).

Pure Python on purpose: the config layer and the pure component modules (render, pools,
capacity) import this without loading Pulumi. The Pulumi program's entry point turns an
`InputError` into `pulumi.RunError`, which the engine prints without a traceback
(docs/decisions/040-one-input-error.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()
"""The value of a Problem about a key that is absent (nothing to show)."""


def show(value: Any) -> str:
    """A value as the message shows it: strings quoted, enums by value, the rest as JSON."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Enum):
        return repr(value.value)
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return repr(value)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where, the value given, what is wrong, and the fix."""

    path: str
    value: Any
    message: str
    fix: str

    def __str__(self) -> str:
        value = "" if self.value is MISSING else f"{show(self.value)} "
        fix = f". Fix: {self.fix}" if self.fix else ""
        return f"{self.path}: {value}{self.message}{fix}"


def as_problem(line: str) -> Problem:
    """A problem already written as `<path>: <value> <problem>. Fix: <fix>` (older validators' lines)."""
    path, _, rest = line.partition(": ")
    return Problem(path, MISSING, rest, "")


def key_path(prefix: str, key: str) -> str:
    """`prefix` joined with `key` (`pools[0]` + `min` -> `pools[0].min`; `[1]` joins without a dot)."""
    if not prefix:
        return key
    if not key:
        return prefix
    return f"{prefix}{key}" if key.startswith("[") else f"{prefix}.{key}"


def field_path(path: str, keys: Mapping[str, str], *parts: str) -> str:
    """`path` joined with each of `parts`, a component field renamed to the stack key `keys` maps it
    to (`pools[0]`, {"min_size": "min"}, "min_size" -> `pools[0].min`)."""
    for part in parts:
        path = key_path(path, keys.get(part, part))
    return path


class InputError(ValueError):
    """Every problem found in one input (a stack's config, one component's args), reported together."""

    def __init__(
        self,
        source: str,
        problems: Sequence[Problem],
        what: str = "the llmops config",
        namespace: str = "llmops",
    ):
        self.source = source
        self.problems = list(problems)
        self.what = what
        self.namespace = namespace
        """Config namespace the key paths live in (`llmops` -> `llmops:pools[0].min`); empty for args."""
        super().__init__(str(self))

    def full_path(self, problem: Problem) -> str:
        """The key as the stack file writes it: `llmops:pools[0].min` for the problem's `pools[0].min`."""
        path = problem.path
        if not self.namespace or path.startswith((f"{self.namespace}:", "(")) or path == "config":
            return path
        head = path.split(".", 1)[0].split("[", 1)[0]
        if ":" in head:
            return path  # already a namespaced key: a provider's (`<provider>:region`)
        return f"{self.namespace}:{path}"

    def __str__(self) -> str:
        count = len(self.problems)
        head = f"{self.source}: {count} problem{'s' if count != 1 else ''} in {self.what}"
        lines = [str(p).replace(p.path, self.full_path(p), 1) for p in self.problems]
        return "\n".join([head + ":", *(f"  - {line}" for line in lines)])


def raise_if(source: str, problems: Sequence[Problem], what: str = "the arguments") -> None:
    """Raise one InputError listing a component's `problems` (key paths are its args), if there are any."""
    if problems:
        raise InputError(source, problems, what, namespace="")
