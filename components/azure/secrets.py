"""Key Vault secrets readable by exactly one managed identity each, and their locators."""

from __future__ import annotations

import re
import uuid

import pulumi
import pulumi_azure_native as azure
from llmops.components.azure.network import AzureNetwork

KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
"""Built-in role "Key Vault Secrets User": read secret values, nothing else."""
VAULT_DNS_SUFFIX = "vault.azure.net"


def secret_name(*parts: str) -> str:
    """Key Vault secret names allow letters, digits and hyphens only (at most 127)."""
    return re.sub(r"[^A-Za-z0-9-]", "-", "-".join(parts))[:127]


def secret_locator(vault_name: str, name: str) -> str:
    """What the bootstrap fragment reads: the secret's URL (no version: the current one)."""
    return f"https://{vault_name}.{VAULT_DNS_SUFFIX}/secrets/{name}"


def node_identity(
    name: str, network: AzureNetwork, parent: pulumi.Resource
) -> azure.managedidentity.UserAssignedIdentity:
    """A user-assigned identity, created before the machines so its role assignments can be too."""
    return azure.managedidentity.UserAssignedIdentity(
        f"{name}-identity",
        resource_group_name=network.resource_group_name,
        location=network.location,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def vault_secret(
    resource_name: str,
    network: AzureNetwork,
    name: str,
    value: pulumi.Input[str],
    identity: azure.managedidentity.UserAssignedIdentity,
    parent: pulumi.Resource,
) -> list[pulumi.Resource]:
    """The secret and one role assignment on it alone for `identity`; returns both."""
    child = pulumi.ResourceOptions(parent=parent)
    secret = azure.keyvault.Secret(
        resource_name,
        resource_group_name=network.resource_group_name,
        vault_name=network.vault.name,
        secret_name=name,
        properties=azure.keyvault.SecretPropertiesArgs(value=pulumi.Output.secret(value)),
        opts=child,
    )
    assignment = azure.authorization.RoleAssignment(
        f"{resource_name}-reader",
        # A role assignment's name is a GUID; derived from the resource name it stays stable.
        role_assignment_name=str(uuid.uuid5(uuid.NAMESPACE_URL, f"llmops/{resource_name}")),
        scope=secret.id,
        principal_id=identity.principal_id,
        principal_type=azure.authorization.PrincipalType.SERVICE_PRINCIPAL,
        role_definition_id=network.subscription_id.apply(
            lambda sub: (
                f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/"
                f"{KEY_VAULT_SECRETS_USER}"
            )
        ),
        opts=child,
    )
    return [secret, assignment]
