"""The recording mocks plus what the GCP provider computes (the kit's own plan-mock outputs).

`GcpRecordingMocks` extends `tests.components.k3s.mocks.RecordingMocks`, so AWS, TLS and random
resources behave exactly as in the other tests; GCP resources get
`llmops.components.gcp.plan_mocks.computed_outputs`, the same values the offline plan gives them.
"""

from __future__ import annotations

from typing import Any

import pulumi
from llmops.components.gcp.plan_mocks import computed_outputs

from tests.components.k3s.mocks import RecordingMocks

GCP_PROJECT = "llmops-test-project"
MOCK_STATIC_IP = "198.51.100.20"


class GcpRecordingMocks(RecordingMocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        resource_id, outputs = super().new_resource(args)
        if args.typ.startswith("gcp:"):
            outputs.pop("arn", None)
            outputs.update(
                computed_outputs(
                    args.typ, args.name, args.inputs, project=GCP_PROJECT, address=MOCK_STATIC_IP
                )
            )
        return resource_id, outputs
