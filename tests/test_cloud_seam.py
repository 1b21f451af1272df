"""The generic layers name no cloud: everything cloud-specific comes from a kit (components/cloud.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from llmops.components.cloud import Cloud, CloudKit, all_kits, kit, registered_clouds

ROOT = Path(__file__).resolve().parent.parent
GENERIC_LAYERS = ("components/k3s", "infra")
# Words that only a cloud's own package may say. Word boundaries, so `always` or `draws` pass.
CLOUD_WORDS = re.compile(r"(?<![a-z0-9])(aws|ssm|imds|ec2|gcp|gce|azure)(?![a-z0-9])", re.IGNORECASE)


def _generic_files() -> list[Path]:
    return sorted(
        path
        for layer in GENERIC_LAYERS
        for path in (ROOT / layer).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )


def cloud_names_in(text: str) -> list[str]:
    return [m.group(0) for m in CLOUD_WORDS.finditer(text)]


def test_the_check_catches_cloud_names() -> None:
    assert cloud_names_in("region = cfg('aws:region')  # IMDS, SSM, ec2") == ["aws", "IMDS", "SSM", "ec2"]
    assert cloud_names_in("aws_preflight(...)") == ["aws"]
    assert cloud_names_in("always draws laws") == []


@pytest.mark.parametrize("path", _generic_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_generic_layers_name_no_cloud(path: Path) -> None:
    found = cloud_names_in(path.read_text(errors="replace"))
    assert not found, (
        f"{path.relative_to(ROOT)} names {sorted(set(found))}; move the cloud-specific part into "
        "components/<cloud>/ and reach it through components.cloud.kit()"
    )


def test_there_are_generic_files_to_check() -> None:
    names = {p.name for p in _generic_files()}
    assert {"program.py", "plan.py", "cluster.py", "lib.sh"} <= names


def test_every_cloud_has_a_kit_and_every_kit_a_cloud() -> None:
    assert set(registered_clouds()) == set(Cloud)
    for cloud in Cloud:
        assert kit(cloud).cloud == cloud.value


def test_kits_follow_the_protocol() -> None:
    members = [
        name for name in dir(CloudKit) if not name.startswith("_") and name not in ("register",)
    ] + list(CloudKit.__annotations__)
    for cloud_kit in all_kits():
        missing = [name for name in members if not hasattr(cloud_kit, name)]
        assert missing == [], f"{cloud_kit.cloud} kit lacks {missing}"
