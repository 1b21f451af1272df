"""Entry point of the CrossGuard pack: `pulumi preview --policy-pack policies`.

The Pulumi CLI runs this file by path, with the pack folder first on sys.path; the
checkout it belongs to goes first instead, so the pack always evaluates its own rules and
reads the stack config with the same code as the program.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policies.pack import serve

serve()
