"""Entry point Pulumi runs (`main: infra/` in Pulumi.yaml)."""

import sys
from pathlib import Path

# Pulumi puts infra/ itself on sys.path; the packages live one level up. An installed
# llmops (pip install -e .) makes this a no-op.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.program import run

run()
