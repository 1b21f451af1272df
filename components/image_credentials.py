"""The kubelet image credential providers the bootstrap fragments install: their pins, read from the
fragments themselves (one source: the shell variables the node checks the download against). Pure.

Each cloud's `scripts/image-credentials.sh` sets `<PREFIX>_VERSION`, `<PREFIX>_URL` and
`<PREFIX>_SHA256`; an empty SHA-256 means no checksum is recorded yet, and the node then installs
no provider.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_ASSIGNMENT = re.compile(r'^(?P<name>[A-Z0-9_]+)=(?P<value>"[^"]*"|\S*)\s*$', re.MULTILINE)


@dataclass(frozen=True)
class ProviderPin:
    version: str
    url: str
    """Download address with the version filled in."""
    sha256: str | None
    """SHA-256 of the download, None where none is recorded."""


def read_pin(script: Path, prefix: str) -> ProviderPin:
    """The pin `<prefix>_{VERSION,URL,SHA256}` of `script`."""
    values = {m["name"]: m["value"].strip('"') for m in _ASSIGNMENT.finditer(script.read_text())}
    version = values[f"{prefix}_VERSION"]
    url = values[f"{prefix}_URL"].replace(f"${{{prefix}_VERSION}}", version)
    return ProviderPin(version=version, url=url, sha256=values[f"{prefix}_SHA256"] or None)
