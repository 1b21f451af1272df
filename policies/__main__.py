"""Entry point of the CrossGuard pack: `pulumi preview --policy-pack policies`.

The Pulumi CLI runs this file by path in the project's virtualenv (PulumiPolicy.yaml), where
llmops is installed: the pack evaluates the installed package's rules and reads the stack
config with the same code as the program.
"""

import sys

try:
    from llmops.policies.pack import serve
except ModuleNotFoundError as missing:
    if missing.name is None or not missing.name.startswith("llmops"):
        raise
    sys.exit(
        "llmops is not installed in the pack's virtual environment (../.venv). "
        "Fix: run `make venv` (or `pulumi install`) in the repository root."
    )

serve()
