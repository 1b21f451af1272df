"""What cluster-autoscaler's Azure provider needs: scale-set tags, two custom roles, and its values.

Facts from kubernetes/autoscaler `cluster-autoscaler/cloudprovider/azure` at the chart 9.59.0 tag
(application v1.35.0), read for this module:

- Discovery: `--node-group-auto-discovery=label:cluster-autoscaler-enabled=true,
  cluster-autoscaler-name=<cluster>`
  selects the scale sets carrying both tags; their `min` and `max` tags bound each one
  (`azure_autodiscovery.go`). The chart renders that flag from `autoDiscovery.clusterName`.
- Scale from zero (`azure_template.go`): the GPU count of a size comes from the provider's
  static size table; labels and taints come from tags named
  `k8s.io_cluster-autoscaler_node-template_label_<name>` / `..._taint_<name>`, where `_` in the
  tag name stands for `/` in the label and `~2` for `_` (Azure tag names cannot hold `/`).
  GPU nodes are recognised by the `kubernetes.azure.com/accelerator` label (`GPULabel`).
- ARM calls (`azure_cache.go`, `azure_scale_set.go`): every cache refresh lists the scale sets
  *and* the virtual machines of the resource group (both must succeed); a resize is a sparse
  PUT of the scale set's SKU capacity, a scale-down a `deleteInstances` POST, and a group's nodes
  come from listing its VM instances with their instance view.
- Node group ids are the scale sets' names, which the priority expander's patterns match.

So the servers' managed identity gets two custom roles: listing at the resource group (the
cluster's own group; the two list calls cannot be narrowed further) and resizing on each pool's
scale set alone. Pure functions first (tested without Pulumi); the resources at the end.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llmops.components.k3s.render import NodeTaint

if TYPE_CHECKING:
    import pulumi
    from llmops.components.azure.network import AzureNetwork

TEMPLATE_PREFIX = "k8s.io_cluster-autoscaler_node-template_"
LABEL_TAG = f"{TEMPLATE_PREFIX}label_"
TAINT_TAG = f"{TEMPLATE_PREFIX}taint_"
RESOURCES_TAG = f"{TEMPLATE_PREFIX}resources_"
GPU_RESOURCE = "nvidia.com/gpu"
ACCELERATOR_LABEL = "kubernetes.azure.com/accelerator"
"""The label the Azure provider tells GPU nodes by (a GPU node not yet advertising its GPUs is
then waited for, not counted as an empty node)."""

LIST_ACTIONS = (
    "Microsoft.Compute/virtualMachineScaleSets/read",
    "Microsoft.Compute/virtualMachines/read",
)
"""At the cluster's resource group: the two list calls of every cache refresh."""
SCALE_ACTIONS = (
    "Microsoft.Compute/virtualMachineScaleSets/read",
    "Microsoft.Compute/virtualMachineScaleSets/write",
    "Microsoft.Compute/virtualMachineScaleSets/delete/action",
    "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read",
)
"""On each pool's scale set: read it, set its capacity, delete chosen instances, list its VMs."""


def tag_name(key: str) -> str:
    """A label or taint key as the provider decodes it from a tag name (`_` -> `/`, `~2` -> `_`)."""
    return key.replace("_", "~2").replace("/", "_")


def node_template_tags(
    labels: Mapping[str, str], taints: Sequence[NodeTaint], gpus: int | None
) -> dict[str, str]:
    """What a node of an empty scale set would carry, so a pending GPU pod can grow it from zero."""
    tags = {f"{LABEL_TAG}{tag_name(key)}": value for key, value in sorted(labels.items())}
    for taint in taints:
        tags[f"{TAINT_TAG}{tag_name(taint.key)}"] = f"{taint.value}:{taint.effect}"
    if gpus is not None:
        tags[f"{RESOURCES_TAG}{tag_name(GPU_RESOURCE)}"] = str(gpus)
    return tags


def discovery_tags(cluster_name: str, min_size: int, max_size: int) -> dict[str, str]:
    """The two tags auto-discovery selects on, and the size limits it reads (`min`, `max`)."""
    return {
        "cluster-autoscaler-enabled": "true",
        "cluster-autoscaler-name": cluster_name,
        "min": str(min_size),
        "max": str(max_size),
    }


def scale_set_pattern(pool: str) -> str:
    """The priority expander's pattern for a pool's scale set: `AzureGpuNodePool` names it
    `<pool>-vmss` and Pulumi's auto-name appends a random hex suffix."""
    return f"^{re.escape(pool)}-vmss-?[0-9a-f]+$"


def role_name(kind: str, cluster_name: str, scope_key: str) -> str:
    """Custom role names are unique in the tenant: the cluster's name plus a digest of its scope."""
    digest = hashlib.sha256(scope_key.encode()).hexdigest()[:12]
    return f"llmops cluster-autoscaler {kind} {cluster_name} {digest}"


def stable_guid(*parts: str) -> str:
    """Role definitions and assignments are named by GUID; derived from their resource names they stay
    the same from one `pulumi up` to the next."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "llmops/" + "/".join(parts)))


def azure_values(
    *,
    subscription_id: pulumi.Input[str],
    resource_group: pulumi.Input[str],
    identity_client_id: pulumi.Input[str],
) -> dict[str, Any]:
    """The chart values that select the Azure provider and its managed-identity login."""
    return {
        "cloudProvider": "azure",
        "azureVMType": "vmss",
        "azureSubscriptionID": subscription_id,
        "azureResourceGroup": resource_group,
        # ARM_USE_MANAGED_IDENTITY_EXTENSION with the servers' user-assigned identity: a token from
        # IMDS (the pod runs on the host network of a server), no client secret anywhere.
        "azureUseManagedIdentityExtension": True,
        "azureUserAssignedIdentityID": identity_client_id,
        # The AWS auto-discovery tag list means nothing to the Azure provider.
        "autoDiscovery": {"tags": []},
    }


# --- resources ------------------------------------------------------------------------


def grant_cluster_autoscaler(
    cluster_name: str,
    network: AzureNetwork,
    principal_id: pulumi.Input[str],
    scale_sets: Mapping[str, pulumi.Input[str]],
    *,
    parent: pulumi.Resource | None = None,
) -> list[pulumi.Resource]:
    """The two custom roles and their assignments to `principal_id`: listing on the resource group,
    resizing on each scale set of `scale_sets` (pool name -> scale set id) and nowhere else."""
    import pulumi
    import pulumi_azure_native as azure

    opts = pulumi.ResourceOptions(parent=parent)
    group_id = pulumi.Output.all(network.subscription_id, network.resource_group_name).apply(
        lambda parts: f"/subscriptions/{parts[0]}/resourceGroups/{parts[1]}"
    )
    scope_key = f"{pulumi.get_project()}/{pulumi.get_stack()}/{cluster_name}"
    lister = azure.authorization.RoleDefinition(
        f"{cluster_name}-autoscaler-lister",
        role_definition_id=stable_guid(scope_key, "lister"),
        role_name=role_name("lister", cluster_name, scope_key),
        description="cluster-autoscaler: list the cluster's scale sets and virtual machines",
        role_type="CustomRole",
        scope=group_id,
        assignable_scopes=[group_id],
        permissions=[azure.authorization.PermissionArgs(actions=list(LIST_ACTIONS))],
        opts=opts,
    )
    scaler = azure.authorization.RoleDefinition(
        f"{cluster_name}-autoscaler-scaler",
        role_definition_id=stable_guid(scope_key, "scaler"),
        role_name=role_name("scaler", cluster_name, scope_key),
        description="cluster-autoscaler: resize a GPU pool's scale set and delete its idle instances",
        role_type="CustomRole",
        scope=group_id,
        assignable_scopes=[group_id],
        permissions=[azure.authorization.PermissionArgs(actions=list(SCALE_ACTIONS))],
        opts=opts,
    )
    created: list[pulumi.Resource] = [lister, scaler]
    created.append(
        azure.authorization.RoleAssignment(
            f"{cluster_name}-autoscaler-lists",
            role_assignment_name=stable_guid(scope_key, "lists"),
            scope=group_id,
            principal_id=principal_id,
            principal_type=azure.authorization.PrincipalType.SERVICE_PRINCIPAL,
            role_definition_id=lister.id,
            opts=opts,
        )
    )
    for pool, scale_set_id in sorted(scale_sets.items()):
        created.append(
            azure.authorization.RoleAssignment(
                f"{cluster_name}-autoscaler-scales-{pool}",
                role_assignment_name=stable_guid(scope_key, "scales", pool),
                scope=scale_set_id,
                principal_id=principal_id,
                principal_type=azure.authorization.PrincipalType.SERVICE_PRINCIPAL,
                role_definition_id=scaler.id,
                opts=opts,
            )
        )
    return created
