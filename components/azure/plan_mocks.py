"""What the offline plan answers for the Azure provider: invokes and provider-computed outputs.

Documentation addresses and all-zero ids: recognisably fake, stable between runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from llmops.components.plan_addresses import plan_node_address

PLAN_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
PLAN_TENANT = "00000000-0000-0000-0000-000000000001"

PLAN_PUBLIC_IP = "203.0.113.20"
DEFAULT_REGION = "eastus"


def plan_region() -> str:
    import pulumi

    return pulumi.Config("azure-native").get("location") or DEFAULT_REGION


def _client_config(_: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "clientId": "00000000-0000-0000-0000-000000000002",
        "objectId": "00000000-0000-0000-0000-000000000003",
        "subscriptionId": PLAN_SUBSCRIPTION,
        "tenantId": PLAN_TENANT,
    }


def _arm_id(kind: str, name: str) -> str:
    return f"/subscriptions/{PLAN_SUBSCRIPTION}/resourceGroups/plan/providers/{kind}/{name}"


def _identity(name: str) -> dict[str, Any]:
    identity = _arm_id("Microsoft.ManagedIdentity/userAssignedIdentities", f"{name}-identity")
    return {
        "type": "UserAssigned",
        "userAssignedIdentities": {
            identity: {
                "principalId": "00000000-0000-0000-0000-00000000000a",
                "clientId": "00000000-0000-0000-0000-00000000000b",
            }
        },
    }


def _client_token(_: Mapping[str, Any]) -> dict[str, Any]:
    # The token carries the plan's secret marker (infra.plan.MOCK_SECRET_MARKER).
    return {"token": "llmops-plan-secret-entra-token"}


INVOKES: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "azure-native:authorization:getClientConfig": _client_config,
    "azure-native:authorization:getClientToken": _client_token,
}

COMPUTED_OUTPUTS: dict[str, Callable[[str], dict[str, Any]]] = {
    # Auto-named resources get the provider's name: the logical name plus a suffix.
    "azure-native:resources:ResourceGroup": lambda name: {"name": f"{name}-plan", "location": plan_region()},
    "azure-native:network:PublicIPAddress": lambda name: {"ipAddress": PLAN_PUBLIC_IP, "name": name},
    "azure-native:network:VirtualNetwork": lambda name: {"name": name},
    # The largest prefix a pool reserves (/28), at an address of its own.
    "azure-native:network:PublicIPPrefix": lambda name: {
        "ipPrefix": f"{plan_node_address(name, block=16)}/28",
        "name": name,
    },
    "azure-native:managedidentity:UserAssignedIdentity": lambda name: {
        "name": name,
        # One principal per identity, so role assignments can be traced to theirs.
        "principalId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"principal/{name}")),
        "clientId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"client/{name}")),
    },
    # The provider answers identities as a map (identity id -> ids) where the input is a list.
    "azure-native:compute:VirtualMachineScaleSet": lambda name: {"name": name, "identity": _identity(name)},
    "azure-native:compute:VirtualMachine": lambda name: {"name": name, "identity": _identity(name)},
    "azure-native:keyvault:Vault": lambda name: {
        "properties": {"vaultUri": f"https://{name}.vault.azure.net/"}
    },
}


EXPLICIT_NAMES: dict[str, str] = {
    # Resources the program names itself: the provider answers that name, not an auto-name.
    "azure-native:storage:StorageAccount": "accountName",
    "azure-native:storage:FileShare": "shareName",
    "azure-native:privatedns:PrivateZone": "privateZoneName",
    "azure-native:keyvault:Vault": "vaultName",
    "azure-native:authorization:RoleDefinition": "roleDefinitionId",
    "azure-native:containerregistry:Registry": "registryName",
}


def default_outputs(type_token: str, name: str, inputs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every Azure resource has an ARM id and a name (the one the program chose, where it chose one),
    for resources without their own entry."""
    if type_token.startswith("azure-native:"):
        _, module, kind = type_token.split(":")
        chosen = (inputs or {}).get(EXPLICIT_NAMES.get(type_token, ""))
        resource_name = chosen if isinstance(chosen, str) else name
        outputs: dict[str, Any] = {
            "name": resource_name,
            "azureApiVersion": "plan",
            "resourceId": _arm_id(f"Microsoft.{module}/{kind}", resource_name),
        }
        if type_token == "azure-native:containerregistry:Registry":
            outputs["loginServer"] = f"{resource_name}.azurecr.io"  # follows the registry's name
        return outputs
    return {}
