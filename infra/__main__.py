"""Entry point Pulumi runs (`main: infra/` in Pulumi.yaml)."""

import sys
from pathlib import Path

# Pulumi puts infra/ itself on sys.path; the packages live one level up. An installed
# llmops (pip install -e .) makes this a no-op.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi

from components.errors import InputError
from infra.program import run

try:
    run()
except InputError as exc:
    # The engine prints a RunError's message without the Python traceback: the message
    # already names every key path, value and fix (docs/decisions/040-one-input-error.md).
    raise pulumi.RunError(str(exc)) from None
