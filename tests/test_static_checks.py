"""The type checker (against the provider SDKs' own types) and ruff, as part of the suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def run(tool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    executable = BIN / tool
    if not executable.exists():
        pytest.fail(
            f"{tool} is not installed in {BIN}; run `make test` (it installs the dev extra)", pytrace=False
        )
    return subprocess.run([str(executable), *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_type_checker_passes(repo_root: Path) -> None:
    import json

    from tests.support.typing_tree import make

    # The package's installed names (llmops.components, ...) through a link tree the checker can read.
    tree = make(repo_root)
    folders = [str(tree / folder) for folder in ("components", "infra", "policies")]
    result = run("basedpyright", "--pythonpath", sys.executable, "--outputjson", *folders, cwd=repo_root)
    report = json.loads(result.stdout)
    errors = [d for d in report["generalDiagnostics"] if d["severity"] == "error"]
    assert result.returncode == 0 and not errors, json.dumps(errors[:20], indent=1)
    # Guard that it checked the package, not an empty folder.
    assert report["summary"]["filesAnalyzed"] > 100


def test_ruff_lint_passes(repo_root: Path) -> None:
    result = run("ruff", "check", "components", "infra", "policies", "tests", "examples", cwd=repo_root)
    assert result.returncode == 0, result.stdout[-6000:]


def test_ruff_format_is_clean(repo_root: Path) -> None:
    result = run(
        "ruff", "format", "--check", "components", "infra", "policies", "tests", "examples", cwd=repo_root
    )
    assert result.returncode == 0, result.stdout[-6000:]
