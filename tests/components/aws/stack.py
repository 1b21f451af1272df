"""aws-dev as the program builds it: `stacks/Pulumi.aws-dev.yaml` through `llmops.infra.program.run`.

No second composition: the tests run the real program on the real stack file (plus a mixed
pool, so every capacity mode is covered, and optionally three servers), under the plan's mocks.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any
from unittest import mock

from llmops.components.k3s.cluster import K3sCluster
from llmops.infra import program
from llmops.infra.config import RawStack, StackConfig, parse, read_stack_file

REPO = Path(__file__).resolve().parents[3]
STACK = "aws-dev"
CLUSTER = STACK  # the program names the network and the cluster after the stack
ALLOWED_CIDR = "203.0.113.0/24"
"""The aws-dev stack's allowedCidrs."""

MIXED_POOL = {
    "name": "l4-mixed",
    "cloud": "aws",
    "gpuType": "L4",
    "instanceTypes": ["g6.xlarge", "g6.2xlarge"],
    "capacity": "mixed",
    "onDemandBase": 1,
    "min": 1,
    "max": 3,
}


def aws_dev_config(*, server_count: int = 1) -> StackConfig:
    raw = read_stack_file(REPO / "stacks", STACK)
    values = copy.deepcopy(raw.values)
    values["cluster"]["servers"] = server_count
    values["pools"] = [*values["pools"], MIXED_POOL]
    return parse(RawStack(raw.source, values, raw.secret_keys, raw.other))


def build_aws_dev(*, server_count: int = 1) -> dict[str, Any]:
    """Run the program on aws-dev; return the cluster and the outputs the tests resolve."""
    clusters: list[K3sCluster] = []
    original = K3sCluster.__init__

    def recording_init(self: K3sCluster, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        clusters.append(self)

    with mock.patch.object(K3sCluster, "__init__", recording_init):
        program.run(aws_dev_config(server_count=server_count))
    (cluster,) = clusters
    return {
        "cluster": cluster,
        "outputs": {
            "kubeconfig": cluster.kubeconfig,
            "api_endpoint": cluster.api_endpoint,
            "server_ca": cluster.certificate_authorities["server-ca"].cert_pem,
            "client_ca": cluster.certificate_authorities["client-ca"].cert_pem,
            "admin_cert": cluster.admin_certificate.cert_pem,
            "agent_token": cluster.agent_join.agent_token,
        },
    }
