"""The link tree the type checker reads the package through: build/typing/llmops/<folder>.

setuptools installs `components/`, `infra/` and `policies/` as `llmops.components`, ...
with an import hook the type checker cannot follow; links with the installed names let it
resolve `llmops.*` imports and check each module under its one real name.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FOLDERS = ("components", "infra", "policies")


def make(repo: Path = REPO) -> Path:
    tree = repo / "build" / "typing" / "llmops"
    tree.mkdir(parents=True, exist_ok=True)
    for folder in FOLDERS:
        link = tree / folder
        target = os.path.relpath(repo / folder, tree)
        if link.is_symlink() and os.readlink(link) == target:
            continue
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target, target_is_directory=True)
    return tree


if __name__ == "__main__":
    print(make())
