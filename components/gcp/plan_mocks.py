"""What the GCP provider computes that the program reads back, for the offline plan's mocks.

Pure Python. `computed_outputs` gives the values the mock engine adds to a GCP resource's
echoed inputs: names, self links, a service account's email, a static address. The offline
plan (`infra/plan.py`) and the tests' recording mocks both use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmops.components.plan_addresses import is_node_address_resource, plan_node_address

PLAN_PROJECT = "llmops-plan-project"

PLAN_STATIC_IP = "198.51.100.20"


def computed_outputs(
    typ: str,
    name: str,
    inputs: Mapping[str, Any],
    *,
    project: str = PLAN_PROJECT,
    address: str = PLAN_STATIC_IP,
) -> dict[str, Any]:
    """Outputs a GCP resource of type token `typ` gets beside its inputs; {} for other packages."""
    if not typ.startswith("gcp:"):
        return {}
    project = str(inputs.get("project") or project)
    out: dict[str, Any] = {
        "name": inputs.get("name") or name,
        "project": project,
        "selfLink": f"https://www.googleapis.com/compute/v1/projects/{project}/{name}",
    }
    if typ == "gcp:compute/instanceTemplate:InstanceTemplate":
        out["selfLinkUnique"] = f"{out['selfLink']}?uniqueId=1"
    elif typ == "gcp:serviceaccount/account:Account":
        out["email"] = f"{inputs.get('accountId', name)}@{project}.iam.gserviceaccount.com"
        out["member"] = f"serviceAccount:{out['email']}"
    elif typ == "gcp:compute/address:Address":
        node = is_node_address_resource(name)
        out["address"] = inputs.get("address") or (plan_node_address(name) if node else address)
    elif typ == "gcp:secretmanager/secret:Secret":
        out["name"] = f"projects/{project}/secrets/{inputs.get('secretId', name)}"
    elif typ == "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager":
        out["instanceGroup"] = f"{out['selfLink']}-group"
    return out
