"""The recording mocks plus what the GCP provider computes (names, emails, addresses).

`GcpRecordingMocks` extends `tests.components.k3s.mocks.RecordingMocks`, so AWS, TLS and random
resources behave exactly as in the other tests.
"""

from __future__ import annotations

from typing import Any

import pulumi

from tests.components.k3s.mocks import RecordingMocks

GCP_PROJECT = "llmops-test-project"
MOCK_STATIC_IP = "198.51.100.20"


class GcpRecordingMocks(RecordingMocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        resource_id, outputs = super().new_resource(args)
        typ = args.typ
        if not typ.startswith("gcp:"):
            return resource_id, outputs
        outputs.pop("arn", None)
        outputs.setdefault("name", args.name)
        outputs.setdefault("project", GCP_PROJECT)
        outputs["selfLink"] = f"https://www.googleapis.com/compute/v1/projects/{GCP_PROJECT}/{args.name}"
        if typ == "gcp:serviceaccount/account:Account":
            outputs["email"] = f"{outputs['accountId']}@{GCP_PROJECT}.iam.gserviceaccount.com"
            outputs["member"] = f"serviceAccount:{outputs['email']}"
        elif typ == "gcp:compute/instanceTemplate:InstanceTemplate":
            outputs["selfLinkUnique"] = f"{outputs['selfLink']}?uniqueId=1"
        elif typ == "gcp:compute/address:Address":
            outputs.setdefault("address", MOCK_STATIC_IP)
        elif typ == "gcp:secretmanager/secret:Secret":
            outputs["name"] = f"projects/{GCP_PROJECT}/secrets/{outputs['secretId']}"
        elif typ == "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager":
            outputs["instanceGroup"] = f"{args.name}-group"
        return f"{args.name}-id", outputs
