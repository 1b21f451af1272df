"""Why some policies are advisory for the stacks this repository ships (policies/shipped.json).

Each entry is a rule that today's components still violate, with the change that makes it
pass; the rule itself stays mandatory for every other use of the pack. `shipped.json`
is generated from this table (a test keeps the two equal): pass it to Pulumi with
`--policy-pack-config policies/shipped.json`; `llmops plan` reads it by default.
"""

from __future__ import annotations

import json

WAIVERS: dict[str, str] = {
    "workload-non-root": "vLLM's image runs as root; passes when VllmModel runs the server as a non-root UID "
    "with fsGroup (hardening, #10).",
    "workload-read-only-root": "vLLM writes caches under its home directory; passes when the caches are "
    "emptyDir volumes and the root filesystem is read-only (hardening, #10).",
    "workload-seccomp": "passes when the serving pods set seccompProfile RuntimeDefault (hardening, #10).",
    "workload-no-token-mount": "passes when the serving pods set automountServiceAccountToken: false "
    "(hardening, #10).",
    "serving-network-policy": "passes when the serving namespace gets its default-deny ingress "
    "NetworkPolicy (hardening, #10).",
    "serving-namespace-restricted": "the restricted Pod Security label would refuse today's root vLLM pods; "
    "label the serving namespace restricted together with the non-root serving pods (hardening, #10).",
    "aws-no-broad-secret-reads": "every node role has AmazonSSMManagedInstanceCore, which reads every "
    "parameter; passes when Session Manager becomes an opt-in without parameter reads (hardening, #10).",
}


def pack_config() -> dict[str, dict[str, str]]:
    return {rule_id: {"enforcementLevel": "advisory"} for rule_id in WAIVERS}


def render() -> str:
    return json.dumps(pack_config(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
