"""`AzureFilesModelStore`: a premium Azure Files NFS 4.1 share that every GPU node mounts, as one
ReadWriteMany claim (docs/decisions/113).

Weights are downloaded into it once (components/serving/model_store.py) and read by every replica
from there. The share lives in its own FileStorage account (Premium_LRS, the only kind that serves
NFS) with public network access disabled: the nodes reach it through a private endpoint in the
cluster's subnet, whose address the private DNS zone `privatelink.file.core.windows.net` (linked
to the cluster's virtual network) gives the account's usual name. The nodes mount it with the
Azure Files CSI driver, encrypted in transit (TLS through Azure's aznfs helper, so the account keeps
"secure transfer required" on); no storage key or Azure identity is involved: NFS on Azure Files
authorises by network, and only this subnet has a route to it.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_azure_native as azure
import pulumi_kubernetes as k8s
from llmops.components.addons.charts import AZUREFILE_CSI_DRIVER, deep_merge, load_values
from llmops.components.addons.static_volume import static_claim
from llmops.components.azure.network import AzureNetwork

CHART = AZUREFILE_CSI_DRIVER
AZUREFILE_CSI = "file.csi.azure.com"

SHARE_NAME = "models"
FILE_DNS_ZONE = "privatelink.file.core.windows.net"
"""The private DNS zone Azure documents for the `file` sub-resource of a storage account."""
PREMIUM_MIN_GIB = 100
"""Smallest premium (provisioned v1) share, GiB; a smaller size is raised to it."""
MOUNT_OPTIONS = ("nconnect=4",)
"""Beside the driver's own NFS options (`vers=4,minorversion=1,sec=sys`): four connections per
client, for throughput from one node."""
MOUNT_PERMISSIONS = "0777"
"""The driver makes the share's root writable on mount: the download Job writes as an unprivileged
id, and NFS on Azure Files maps no ids (the share is reachable only from the cluster's subnet, and
replicas mount it read-only)."""

# USD, East US, list prices (docs/azure.md "Prices" names each source and its date).
PREMIUM_USD_PER_GIB_MONTH = 0.16
"""Premium (SSD) file shares, provisioned v1, LRS, per provisioned GiB-month:
azure.microsoft.com/pricing/details/storage/files/ as recalled, 2026 (no public copy to confirm it
was found); refresh it there before relying on it."""
PRIVATE_ENDPOINT_USD_PER_HOUR = 0.01
"""Azure Private Link, per endpoint-hour (azure.microsoft.com/pricing/details/private-link/, as
quoted by c3x.dev's azurerm_private_endpoint page and oneuptime.com, 2026-02-16)."""
PRIVATE_ENDPOINT_USD_PER_GB = 0.01
"""Azure Private Link, per GB processed, charged inbound and outbound alike (same sources)."""
HOURS_PER_MONTH = 730


def provisioned_gib(size_gib: int) -> int:
    """The share's quota: the size asked for, at least the premium minimum."""
    return max(size_gib, PREMIUM_MIN_GIB)


def throughput_mibps(size_gib: int) -> int:
    """Provisioned v1 throughput of a premium share: 100 + ceil(0.04 x GiB) + ceil(0.06 x GiB) MiB/s
    (learn.microsoft.com/azure/storage/files/understanding-billing, provisioned v1)."""
    gib = provisioned_gib(size_gib)
    return 100 + math.ceil(0.04 * gib) + math.ceil(0.06 * gib)


def monthly_cost(size_gib: int, read_gb_per_month: float, written_gb_per_month: float) -> dict[str, float]:
    """Monthly cost by part, for the plan: the provisioned share (billed whether used or not), the
    private endpoint's hours and the data it carries. Pure."""
    gib = provisioned_gib(size_gib)
    storage = gib * PREMIUM_USD_PER_GIB_MONTH
    endpoint = HOURS_PER_MONTH * PRIVATE_ENDPOINT_USD_PER_HOUR
    transfer = (read_gb_per_month + written_gb_per_month) * PRIVATE_ENDPOINT_USD_PER_GB
    return {
        "provisioned_gib": float(gib),
        "usd_per_gib_month": PREMIUM_USD_PER_GIB_MONTH,
        "storage_usd": round(storage, 2),
        "private_endpoint_usd": round(endpoint, 2),
        "transfer_usd": round(transfer, 2),
        "monthly_usd": round(storage + endpoint + transfer, 2),
    }


def default_account_name(project: str, stack: str, name: str) -> str:
    """Storage account names are global, 3-24 lower-case letters and digits: fixed before deployment
    so the NFS server name is known to the volume, like the Key Vault's."""
    return "llmops" + hashlib.sha256(f"{project}/{stack}/{name}".encode()).hexdigest()[:18]


@dataclass(kw_only=True)
class AzureFilesModelStoreArgs:
    """Inputs of `AzureFilesModelStore`."""

    network: AzureNetwork
    """The cluster's network: its resource group, virtual network and subnet (the private endpoint's)."""
    provider: k8s.Provider
    """Provider of the cluster, e.g. `K3sCluster.provider`."""
    namespace: pulumi.Input[str]
    """Namespace of the claim (where the models run)."""
    size_gib: int = 500
    """Provisioned size of the share, billed whether used or not; raised to the premium minimum of
    100 GiB. Default: 500 GiB."""
    account_name: str | None = None
    """Storage account name; default: `llmops` + 18 hex digits of sha256(project/stack/name). Set it
    when that name is taken by another tenant (account names are global)."""
    node_selector: dict[str, str] = field(default_factory=lambda: {"llmops.io/cloud": "azure"})
    """Nodes that run the driver's node plugin; default: every Azure node (no other cloud's node has
    a route to the private endpoint)."""
    driver_namespace: str = "kube-system"
    """Namespace of the CSI driver release."""


def driver_values(args: AzureFilesModelStoreArgs) -> dict[str, Any]:
    """Chart values: the file next to the chart pins plus placement. Pure."""
    return deep_merge(load_values(CHART), {"linux": {"nodeSelector": dict(args.node_selector)}})


def volume_attributes(account: str, share: str = SHARE_NAME) -> dict[str, str]:
    """The static volume's context: an NFS share, mounted encrypted in transit."""
    return {
        "storageAccount": account,
        "shareName": share,
        "protocol": "nfs",
        "encryptInTransit": "true",
        "mountPermissions": MOUNT_PERMISSIONS,
    }


def store_problems(args: AzureFilesModelStoreArgs) -> list[str]:
    problems = []
    if args.size_gib < 1:
        problems.append(f"size_gib: {args.size_gib} must be >= 1. Fix: give the space the models need")
    if args.account_name is not None and not (
        3 <= len(args.account_name) <= 24 and args.account_name.isalnum() and args.account_name.islower()
    ):
        problems.append(
            f"account_name: {args.account_name!r} is not 3-24 lower-case letters and digits. "
            "Fix: use a name such as 'llmopsmodels01'"
        )
    return problems


class AzureFilesModelStore(pulumi.ComponentResource):
    """The shared model store on Azure: a premium NFS share behind a private endpoint, mounted
    through csi-driver-nfs as one static PV and its RWX claim."""

    claim_name: pulumi.Output[str]
    """Name of the ReadWriteMany claim the download Jobs and the replicas mount."""
    account: azure.storage.StorageAccount
    share: azure.storage.FileShare

    def __init__(self, name: str, args: AzureFilesModelStoreArgs, opts: pulumi.ResourceOptions | None = None):
        problems = store_problems(args)
        if problems:
            raise ValueError(
                f"AzureFilesModelStore {name!r}: invalid arguments:\n  - " + "\n  - ".join(problems)
            )
        super().__init__("llmops:azure:AzureFilesModelStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        network = args.network
        group = network.resource_group_name
        account_name = args.account_name or default_account_name(
            pulumi.get_project(), pulumi.get_stack(), name
        )
        self.account = azure.storage.StorageAccount(
            f"{name}-account",
            account_name=account_name,
            resource_group_name=group,
            location=network.location,
            kind=azure.storage.Kind.FILE_STORAGE,
            sku=azure.storage.SkuArgs(name=azure.storage.SkuName.PREMIUM_LRS),
            # Only the private endpoint reaches the account; nothing on the internet does.
            public_network_access=azure.storage.PublicNetworkAccess.DISABLED,
            network_rule_set=azure.storage.NetworkRuleSetArgs(
                default_action=azure.storage.DefaultAction.DENY, bypass=azure.storage.Bypass.NONE
            ),
            # Secure transfer stays required: the nodes mount NFS encrypted in transit (aznfs, TLS).
            enable_https_traffic_only=True,
            minimum_tls_version=azure.storage.MinimumTlsVersion.TLS1_2,
            allow_blob_public_access=False,
            allow_shared_key_access=False,
            tags={"llmops-store": name},
            opts=child,
        )
        self.share = azure.storage.FileShare(
            f"{name}-share",
            account_name=self.account.name,
            resource_group_name=group,
            share_name=SHARE_NAME,
            enabled_protocols=azure.storage.EnabledProtocols.NFS,
            root_squash=azure.storage.RootSquashType.NO_ROOT_SQUASH,
            share_quota=provisioned_gib(args.size_gib),
            opts=child,
        )
        endpoint = azure.network.PrivateEndpoint(
            f"{name}-endpoint",
            resource_group_name=group,
            location=network.location,
            subnet=azure.network.SubnetArgs(id=network.subnet_id),
            private_link_service_connections=[
                azure.network.PrivateLinkServiceConnectionArgs(
                    name="file", private_link_service_id=self.account.id, group_ids=["file"]
                )
            ],
            opts=child,
        )
        zone = azure.privatedns.PrivateZone(
            f"{name}-dns",
            private_zone_name=FILE_DNS_ZONE,
            resource_group_name=group,
            location="global",
            opts=child,
        )
        azure.privatedns.VirtualNetworkLink(
            f"{name}-dns-link",
            private_zone_name=zone.name,
            resource_group_name=group,
            location="global",
            virtual_network=azure.privatedns.SubResourceArgs(id=network.vnet.id),
            registration_enabled=False,
            opts=child,
        )
        azure.network.PrivateDnsZoneGroup(
            f"{name}-dns-records",
            private_endpoint_name=endpoint.name,
            resource_group_name=group,
            private_dns_zone_configs=[
                azure.network.PrivateDnsZoneConfigArgs(name="file", private_dns_zone_id=zone.id)
            ],
            opts=child,
        )
        cluster = pulumi.ResourceOptions(parent=self, provider=args.provider)
        driver = k8s.helm.v3.Release(
            f"{name}-azurefile-csi",
            name=f"{name}-azurefile-csi",
            **CHART.release_source(),
            namespace=args.driver_namespace,
            values=driver_values(args),
            opts=cluster,
        )
        self.claim_name = static_claim(
            name,
            parent=self,
            provider=args.provider,
            namespace=args.namespace,
            size_gib=provisioned_gib(args.size_gib),
            mount_options=MOUNT_OPTIONS,
            csi=k8s.core.v1.CSIPersistentVolumeSourceArgs(
                driver=AZUREFILE_CSI,
                # The driver's handle: resource group#account#share.
                volume_handle=pulumi.Output.concat(group, "#", account_name, "#", SHARE_NAME),
                volume_attributes=volume_attributes(account_name),
            ),
            depends_on=[driver],
        )
        self.register_outputs({"claimName": self.claim_name, "accountName": account_name})
