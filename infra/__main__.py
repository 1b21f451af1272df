"""Entry point Pulumi runs (`main: infra/` in Pulumi.yaml)."""

import sys
from pathlib import Path

# Pulumi puts infra/ itself on sys.path; the packages live one level up. An installed
# llmops (pip install -e .) makes this a no-op.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi

from infra.config import ConfigError
from infra.program import run

try:
    run()
except ConfigError as exc:
    # A RunError prints its message without a Python traceback: the key-path list is the whole story.
    raise pulumi.RunError(str(exc)) from None
