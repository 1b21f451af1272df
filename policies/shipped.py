"""Why some policies are advisory for the stacks this repository ships (policies/shipped.json).

Each entry is a rule that today's components still violate, with the change that makes it
pass; the rule itself stays mandatory for every other use of the pack. `shipped.json`
is generated from this table (a test keeps the two equal): pass it to Pulumi with
`--policy-pack-config policies/shipped.json`; `llmops plan` reads it by default.
"""

from __future__ import annotations

import json

WAIVERS: dict[str, str] = {}


def pack_config() -> dict[str, dict[str, str]]:
    return {rule_id: {"enforcementLevel": "advisory"} for rule_id in WAIVERS}


def render() -> str:
    return json.dumps(pack_config(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
