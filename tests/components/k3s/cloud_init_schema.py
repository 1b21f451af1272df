"""Locate cloud-init's own JSON schema for #cloud-config documents.

The schema ships inside the cloud-init package. It is read from an installed cloud-init when
there is one; otherwise Debian's package is downloaded (`apt-get download`, no root needed)
and only the schema is read out of it. Elsewhere the tests skip; under LLMOPS_REQUIRE_SHARED=1
(CI) they fail, so the check cannot turn itself off silently.
"""

from __future__ import annotations

import atexit
import glob
import json
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest

SCHEMA_IN_PACKAGE = "cloudinit/config/schemas/schema-cloud-config-v1.json"
_INSTALLED = [
    Path("/usr/lib/python3/dist-packages") / SCHEMA_IN_PACKAGE,
    *[Path(p) for p in glob.glob(f"/usr/lib/python3*/site-packages/{SCHEMA_IN_PACKAGE}")],
]


@cache
def _find_or_fetch() -> tuple[Path | None, str]:
    for path in _INSTALLED:
        if path.exists():
            return path, ""
    if not (shutil.which("apt-get") and shutil.which("dpkg-deb")):
        return (
            None,
            "cloud-init's schema not found and apt-get/dpkg-deb are unavailable; apt-get install cloud-init",
        )
    workdir = Path(tempfile.mkdtemp(prefix="llmops-cloud-init-"))
    atexit.register(shutil.rmtree, workdir, True)
    fetched = subprocess.run(
        ["apt-get", "download", "cloud-init"], cwd=workdir, capture_output=True, text=True, check=False
    )
    if fetched.returncode != 0 and os.geteuid() == 0:
        # A fresh machine has no package lists yet; as root, fetch them once and retry.
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, check=False)
        fetched = subprocess.run(
            ["apt-get", "download", "cloud-init"], cwd=workdir, capture_output=True, text=True, check=False
        )
    debs = list(workdir.glob("cloud-init_*.deb"))
    if fetched.returncode != 0 or not debs:
        return None, f"apt-get download cloud-init failed: {fetched.stderr.strip()[-300:]}"
    subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(workdir / "root")], check=True, capture_output=True)
    found = list((workdir / "root").rglob(Path(SCHEMA_IN_PACKAGE).name))
    if not found:
        return None, f"{debs[0].name} holds no {Path(SCHEMA_IN_PACKAGE).name}"
    return found[0], ""


def cloud_config_schema() -> dict[str, Any]:
    path, reason = _find_or_fetch()
    if path is None:
        if os.environ.get("LLMOPS_REQUIRE_SHARED") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return json.loads(path.read_text())
