"""docs/configuration.md, generated from the config models: every key's name, default, limits and
description come from `infra/config/models.py`, where they are declared once.

    python -m llmops.infra.config.reference            # rewrite docs/configuration.md
    python -m llmops.infra.config.reference --check    # exit 1 when the file is stale

A test fails when the file and the models disagree.
"""

from __future__ import annotations

import re
import sys
import types
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from llmops.components.cloud import kit, registered_clouds
from llmops.infra.config.models import StackConfig
from pydantic import BaseModel
from pydantic.fields import FieldInfo

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"

_HEADER = """\
# Stack configuration

<!-- Generated from infra/config/models.py by `python -m llmops.infra.config.reference`; edit the models. -->

A stack is `stacks/Pulumi.<stack>.yaml`. llmops keys live under the `llmops` namespace;
provider keys ({provider_keys}) sit beside them. Keys are camelCase. Unknown keys are
errors, and every problem is reported at once as `<key path>: <value> <problem>. Fix: <fix>`.
`llmops plan --stack <stack>` checks a file without deploying anything.

```yaml
config:
{provider_lines}  llmops:namespace: llmops
  llmops:cluster: {{...}}
  llmops:pools: [...]
  llmops:models: [...]
  llmops:observability: {{...}}
  llmops:budget: {{...}}
```
"""

_BOUNDS = (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"))


def _strip_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _choices(annotation: Any) -> list[str]:
    annotation = _strip_optional(annotation)
    if get_origin(annotation) is Literal:
        return [str(v) for v in get_args(annotation)]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [str(member.value) for member in annotation]
    return []


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    annotation = _strip_optional(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for inner in get_args(annotation):
        found += _models_in(inner)
    return found


def _is_list(annotation: Any) -> bool:
    return get_origin(_strip_optional(annotation)) is list


def allowed(field: FieldInfo) -> str:
    """The limits declared on a field: its choices and bounds."""
    parts = []
    choices = _choices(field.annotation)
    if choices:
        parts.append("one of " + ", ".join(f"`{c}`" for c in choices))
    for meta in field.metadata:  # annotated-types bounds (Ge, Le, ...) carry the bound as an attribute
        for attribute, symbol in _BOUNDS:
            bound = getattr(meta, attribute, None)
            if bound is not None:
                parts.append(f"{symbol} {bound}")
    return ", ".join(parts)


def _per_kit(match: re.Match[str]) -> str:
    return ", ".join(f"{k.cloud}: `{getattr(k, match.group(1))}`" for k in map(kit, registered_clouds()))


def shown_default(field: FieldInfo) -> str:
    extra = field.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("shown_default"), str):
        return re.sub(r"\{kits:(\w+)\}", _per_kit, str(extra["shown_default"]))
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value = field.default_factory()  # pyright: ignore[reportCallIssue]
        if isinstance(value, BaseModel):
            return "see below"
        return f"`{value!r}`".replace("'", "")
    value = field.default
    if value is None:
        return "none"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        value = str(value).lower()
    return f"`{value}`"


def _key(name: str, field: FieldInfo) -> str:
    return field.alias or name


def table(model: type[BaseModel]) -> str:
    rows = ["| key | default | allowed | meaning |", "| --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{_key(name, field)}` | {shown_default(field)} | {allowed(field)} | {meaning} |")
    return "\n".join(rows) + "\n"


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else ""


def _model_section(model: type[BaseModel]) -> str:
    out = [table(model)]
    for name, field in model.model_fields.items():
        for inner in _models_in(field.annotation):
            lead = (
                f"Each `{_key(name, field)}` entry"
                if _is_list(field.annotation)
                else f"`{_key(name, field)}`"
            )
            # Nested blocks (models -> autoscaling -> windows) each get their own table.
            out.append(f"\n{lead}: {_sentence(inner.__doc__ or '')}\n\n{_model_section(inner)}")
    return "".join(out)


def render() -> str:
    clouds = [kit(cloud) for cloud in registered_clouds()]
    provider_keys = ", ".join(f"`{c.region_key}`" for c in clouds) + ", ..."
    provider_lines = "".join(f"  {c.region_key}: {c.default_region}\n" for c in clouds)
    parts = [_HEADER.format(provider_keys=provider_keys, provider_lines=provider_lines)]
    for name, field in StackConfig.model_fields.items():
        key = _key(name, field)
        parts.append(f"\n## `llmops:{key}`\n\n")
        models = _models_in(field.annotation)
        if not models:
            limits = allowed(field)
            parts.append(
                f"{_sentence(field.description or '')} Default {shown_default(field)}"
                + (f"; allowed: {limits}" if limits else "")
                + ".\n"
            )
        elif len(models) > 1:  # a union: one table per shape
            parts.append(f"{_sentence(field.description or '')}\n")
            for model in models:
                parts.append(f"\n{_sentence(model.__doc__ or '')}\n\n{table(model)}")
        else:
            lead = "Each entry: " if _is_list(field.annotation) else ""
            parts.append(f"{lead}{_sentence(models[0].__doc__ or '')}\n\n{_model_section(models[0])}")
    return "".join(parts)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not REFERENCE.is_file() or REFERENCE.read_text() != text:
            print(f"{REFERENCE} is stale; run: python -m llmops.infra.config.reference", file=sys.stderr)
            return 1
        return 0
    REFERENCE.write_text(text)
    print(f"wrote {REFERENCE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
