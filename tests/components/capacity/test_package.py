"""The capacity model stays pure Python: importing it loads no Pulumi module."""

from __future__ import annotations

import subprocess
import sys


def test_no_pulumi_import() -> None:
    code = (
        "import sys, components.capacity, components.aws.lookup, infra.cli_capacity; "
        "loaded = sorted(m for m in sys.modules if m == 'pulumi' or m.startswith('pulumi_') "
        "or m.startswith('pulumi.')); print(','.join(loaded))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"pulumi modules imported: {result.stdout}"
