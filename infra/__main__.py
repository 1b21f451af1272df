"""Entry point Pulumi runs (`main: infra/` in Pulumi.yaml).

The program imports itself as the installed `llmops` package (`pulumi install` installs it
into .venv from requirements.txt), so it runs the same code a user's program imports.
"""

import sys

import pulumi

try:
    from llmops.components.errors import InputError
    from llmops.infra.program import run
except ModuleNotFoundError as missing:
    if missing.name is None or not missing.name.startswith("llmops"):
        raise
    sys.exit(
        "llmops is not installed in this program's virtual environment. "
        "Fix: run `pulumi install` (or `make venv`) in the repository root."
    )

try:
    run()
except InputError as exc:
    # The engine prints a RunError's message without the Python traceback: the message
    # already names every key path, value and fix (docs/decisions/040-one-input-error.md).
    raise pulumi.RunError(str(exc)) from None
