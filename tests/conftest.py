"""Shared fixtures.

Tests that check generated output against third-party reference data read it from
`../shared` beside the checkout. A user's clone has no such folder: those tests skip
with a reason. CI sets LLMOPS_REQUIRE_SHARED=1, which turns the skip into a failure so a
missing folder can never turn the checks off silently.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _shared_root() -> Path:
    return Path(os.environ.get("LLMOPS_SHARED_DIR", REPO_ROOT.parent / "shared"))


def require_shared(relative: str) -> Path:
    """Path of a file or folder under ../shared; skip (or fail in CI) when it is absent."""
    path = _shared_root() / relative
    if not path.exists():
        reason = f"reference data {path} is absent (a clone without ../shared)"
        if os.environ.get("LLMOPS_REQUIRE_SHARED") == "1":
            pytest.fail(f"{reason}; LLMOPS_REQUIRE_SHARED=1 makes this an error", pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An AWS account served by moto: dummy credentials, us-east-1, no network."""
    from moto import mock_aws

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield
