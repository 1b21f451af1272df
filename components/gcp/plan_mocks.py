"""What the GCP provider computes that the program reads back, for the offline plan's mocks.

Pure Python. `computed_outputs` gives the values the mock engine adds to a GCP resource's
echoed inputs: names, self links, a service account's email, a static address. The offline
plan (`infra/plan.py`) and the tests' recording mocks both use it.
"""

from __future__ import annotations

import hashlib
import ipaddress
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
    elif typ == "gcp:compute/instanceGroupManager:InstanceGroupManager":
        # Pulumi auto-names it `<resource name>-<7 hex>`; cluster-autoscaler finds it by that prefix.
        out["name"] = inputs.get("name") or f"{name}-{hashlib.sha256(name.encode()).hexdigest()[:7]}"
        zone = inputs.get("zone", "zone")
        out["selfLink"] = (
            f"https://www.googleapis.com/compute/v1/projects/{project}/zones/{zone}/instanceGroupManagers/{out['name']}"
        )
        out["instanceGroup"] = out["selfLink"].replace("/instanceGroupManagers/", "/instanceGroups/")
    elif typ == "gcp:projects/iAMCustomRole:IAMCustomRole":
        out["name"] = f"projects/{project}/roles/{inputs.get('roleId', name)}"
    elif typ == "gcp:filestore/instance:Instance":
        out["networks"] = [_filestore_network(network) for network in inputs.get("networks") or []]
    elif typ == "gcp:artifactregistry/repository:Repository":
        location, repository = inputs.get("location", "us-central1"), inputs.get("repositoryId", name)
        out["name"] = repository
        out["registryUri"] = f"{location}-docker.pkg.dev/{project}/{repository}"
    return out


def _filestore_network(network: Mapping[str, Any]) -> dict[str, Any]:
    """A Filestore network with the address the instance takes: the first usable one of its
    reserved range (GCP hands out one of them)."""
    reserved = network.get("reservedIpRange")
    address = str(ipaddress.ip_network(reserved)[2]) if reserved else "10.29.255.250"
    return {**network, "ipAddresses": [address]}


def _client_config(_: Mapping[str, Any]) -> dict[str, Any]:
    # The token carries the plan's secret marker (infra.plan.MOCK_SECRET_MARKER): a test proves it
    # reaches no output unmasked.
    return {
        "accessToken": "llmops-plan-secret-gcp-access-token",
        "id": "plan",
        "project": PLAN_PROJECT,
        "region": "us-central1",
        "zone": "us-central1-a",
    }


INVOKES = {"gcp:organizations/getClientConfig:getClientConfig": _client_config}
"""Provider functions the GCP components call: the push login's access token."""
