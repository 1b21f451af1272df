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

from llmops.components.errors import MISSING as _MISSING
from llmops.components.errors import InputError, Problem
from llmops.infra.config.checks import _not_yet_reported, check_semantics, provider_problems
from llmops.infra.config.models import TOP_LEVEL_KEYS, StackConfig
from llmops.infra.config.translate import _translate, _unknown_key
from pydantic import ValidationError

NAMESPACE = "llmops"

# `{secure: ...}` values stand in as this in the offline plan, where nothing is decrypted.
from llmops.infra.secrets import SECRET_PLACEHOLDER as SECRET_PLACEHOLDER  # noqa: E402
from llmops.infra.secrets import holds_sensitive as holds_sensitive  # noqa: E402
from llmops.infra.secrets import plaintext_problems, unwrap_secure  # noqa: E402

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
    problems.extend(plaintext_problems(config, raw.secret_keys, NAMESPACE))
    from llmops.infra.stack_checks import stack_problems  # imports this package's Problem

    problems.extend(stack_problems(config, raw.other))
    problems.extend(_not_yet_reported(problems, provider_problems(config, raw.other)))
    if not problems:
        # The serving component's own checks on the args this config builds (imports Pulumi SDKs):
        # a model it would refuse is a config error first, never a traceback from `pulumi up`.
        from llmops.infra.config.checks import model_component_problems

        problems.extend(model_component_problems(config))
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
    # Bounded in size, depth and alias expansion; duplicate keys and odd types are errors.
    from llmops.infra.stackfile import StackFileError, load_document, read_bounded, stack_config

    try:
        config = stack_config(load_document(read_bounded(path)))
    except StackFileError as exc:
        raise ConfigError(
            source,
            [Problem(p.path.removeprefix("config."), _MISSING, p.message, p.fix) for p in exc.problems],
        ) from None
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
        found: set[str] = set()
        value = unwrap_secure(value, f"{namespace}:{key}", found)
        if found:
            # Pulumi marks the whole top-level key secret when any part of it is (`--path`).
            secrets |= found | {f"{namespace}:{key}"}
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
            other[str(full_key)] = _decode(text)  # provider keys (`<cloud>:region`) for the checks
            continue
        values[key] = _decode(text)
    source = f"stack {pulumi.get_stack()!r} (stacks/Pulumi.{pulumi.get_stack()}.yaml)"
    secret_keys = set(runtime_config.get_config_secret_keys_env()) | {
        str(k) for k in raw if runtime_config.is_config_secret(str(k))
    }
    return parse(RawStack(source, values, frozenset(secret_keys), other))


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
