"""Validate custom resources against an upstream CRD manifest's openAPIV3Schema, as the API server would.

The API server prunes unknown fields of a structural schema silently; with
`kubectl --validate=strict` (and Pulumi's server-side apply field validation) it rejects them.
To catch a misspelt or too-new field here, every object schema that neither lists
`additionalProperties` nor preserves unknown fields is closed (`additionalProperties: false`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml


def _closed(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _closed(value) for key, value in schema.items() if not key.startswith("x-kubernetes-")}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@functools.cache
def crd_schema(path: Path, version: str) -> dict[str, Any]:
    """The closed JSON schema of `version` in the CRD manifest at `path`."""
    crd = yaml.safe_load(path.read_text())
    for served in crd["spec"]["versions"]:
        if served["name"] == version:
            return _closed(served["schema"]["openAPIV3Schema"])
    raise LookupError(f"{path}: no version {version}")


def crd_errors(document: dict[str, Any], path: Path) -> list[str]:
    """Schema errors of `document` against the CRD at `path` (its apiVersion's version)."""
    version = document["apiVersion"].split("/")[1]
    validator = jsonschema.Draft7Validator(crd_schema(path, version))
    return sorted(
        f"{e.message} at {'.'.join(map(str, e.absolute_path))}" for e in validator.iter_errors(document)
    )
