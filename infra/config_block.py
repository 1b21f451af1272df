"""The one base of every stack-config block: camelCase keys in YAML (Pulumi's own convention),
snake_case in Python, unknown keys are errors (never silently ignored), values frozen and
stripped. Outside `infra.config` so the blocks it imports (autoscaling, images, model store)
can share it without an import cycle."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ConfigBlock(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=False,
        frozen=True,
        str_strip_whitespace=True,
    )
