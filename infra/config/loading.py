"""Loading a stack: from the YAML file (the offline plan, the tests) or from the Pulumi engine.

Both end in `parse()`, which reports every problem in the file at once, each naming the key
path, the value given, what is allowed and the fix, before any resource exists. Pulumi
imports stay inside `load_from_pulumi()` so this module stays cheap to import.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from components.errors import MISSING as _MISSING
from components.errors import InputError, Problem
from infra.config.checks import _not_yet_reported, check_semantics, provider_problems
from infra.config.models import TOP_LEVEL_KEYS, StackConfig
from infra.config.translate import _translate, _unknown_key

NAMESPACE = "llmops"

# The value a `{secure: ...}` key gets in the offline plan, where nothing is decrypted.
SECRET_PLACEHOLDER = "[secret]"

ConfigError = InputError
"""Every problem found in one stack's config, reported together: the project's one input error."""


class StackNotFoundError(Exception):
    """The stack named on the command line has no stacks/Pulumi.<stack>.yaml."""

    def __init__(self, stack: str, stacks_dir: Path):
        self.stack = stack
        known = available_stacks(stacks_dir)
        listing = ", ".join(known) if known else "none"
        super().__init__(
            f"unknown stack {stack!r}: {stacks_dir / f'Pulumi.{stack}.yaml'} does not exist. "
            f"Stacks in {stacks_dir}: {listing}. Fix: pass one of them with --stack, "
            f"or create the file (copy one of the existing stacks)."
        )


@dataclass(frozen=True)
class RawStack:
    """A stack's `llmops:` keys (namespace stripped) and the provider keys beside them."""

    source: str
    values: dict[str, Any]
    secret_keys: frozenset[str]
    other: dict[str, Any]


def parse(raw: RawStack) -> StackConfig:
    """Validate a stack's llmops config; raise ConfigError listing every problem."""
    problems: list[Problem] = []
    for key in raw.values:
        if key not in TOP_LEVEL_KEYS:
            problems.append(_unknown_key(key, key, TOP_LEVEL_KEYS, prefix=f"{NAMESPACE}:"))
    known = {k: v for k, v in raw.values.items() if k in TOP_LEVEL_KEYS}
    try:
        config = StackConfig.model_validate(known)
    except ValidationError as exc:
        problems.extend(_translate(err, known) for err in exc.errors())
        raise ConfigError(raw.source, problems) from None
    problems.extend(check_semantics(config))
    problems.extend(_not_yet_reported(problems, provider_problems(config, raw.other)))
    if problems:
        raise ConfigError(raw.source, problems)
    return config


def available_stacks(stacks_dir: Path) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in stacks_dir.glob("Pulumi.*.yaml"))


def stack_file(stacks_dir: Path, stack: str) -> Path:
    return stacks_dir / f"Pulumi.{stack}.yaml"


def read_stack_file(stacks_dir: Path, stack: str) -> RawStack:
    """Read stacks/Pulumi.<stack>.yaml without the Pulumi engine."""
    path = stack_file(stacks_dir, stack)
    if not path.is_file():
        raise StackNotFoundError(stack, stacks_dir)
    source = str(path)
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            source, [Problem("(file)", _MISSING, f"is not valid YAML{where}: {exc}", "fix the YAML syntax")]
        ) from None
    if not isinstance(document, dict):
        raise ConfigError(
            source, [Problem("(file)", _MISSING, "is not a YAML mapping", "start with 'config:'")]
        )
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError(source, [Problem("config", config, "is not a mapping", "write 'key: value' lines")])
    return split_namespace(source, config)


def split_namespace(source: str, config: Mapping[str, Any], secret_keys: Iterable[str] = ()) -> RawStack:
    """Separate `llmops:` keys from provider keys (`<provider>:region`, ...)."""
    values: dict[str, Any] = {}
    other: dict[str, Any] = {}
    secrets = set(secret_keys)
    for full_key, value in config.items():
        namespace, _, key = str(full_key).rpartition(":")
        # Pulumi treats a key without a namespace as belonging to the project.
        namespace = namespace or NAMESPACE
        if isinstance(value, dict) and set(value) == {"secure"}:
            value = SECRET_PLACEHOLDER
            secrets.add(f"{namespace}:{key}")
        if namespace == NAMESPACE:
            values[key] = value
        else:
            other[f"{namespace}:{key}"] = value
    return RawStack(source, values, frozenset(secrets), other)


def load_stack_file(stacks_dir: Path, stack: str) -> StackConfig:
    return parse(read_stack_file(stacks_dir, stack))


def load_from_pulumi() -> StackConfig:
    """The config the Pulumi engine handed this program (pulumi up/preview, or the plan's mocks)."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    values: dict[str, Any] = {}
    other: dict[str, Any] = {}
    for full_key, text in raw.items():
        namespace, _, key = str(full_key).rpartition(":")
        if namespace != NAMESPACE:
            other[str(full_key)] = _decode(text)
            continue
        values[key] = _decode(text)
    source = f"stack {pulumi.get_stack()!r} (stacks/Pulumi.{pulumi.get_stack()}.yaml)"
    return parse(RawStack(source, values, frozenset(), other))


def _decode(text: Any) -> Any:
    """Pulumi passes structured config as JSON text and scalars as plain text."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def to_pulumi_config(raw: RawStack) -> dict[str, str]:
    """The flat string map the Pulumi engine would hand the program for this stack file."""
    flat: dict[str, str] = {}
    for key, value in raw.values.items():
        flat[f"{NAMESPACE}:{key}"] = value if isinstance(value, str) else json.dumps(value)
    for key, value in raw.other.items():
        flat[key] = value if isinstance(value, str) else json.dumps(value)
    return flat
