"""`GcpModelStore`: a Filestore instance that every GPU node mounts, as one ReadWriteMany claim.

Weights are downloaded into it once (components/serving/model_store.py) and read by every
replica from there, as on AWS with EFS. The instance is a Basic HDD Filestore share on the
cluster's VPC (private service access by direct peering); its export admits only the cluster's
subnetworks, and the VPC's egress firewall lets only the nodes' network tag reach it on the NFS
ports (`store_firewall_rules`). On the cluster, csi-driver-nfs mounts it through one static
PersistentVolume (components/addons/nfs_store.py), NFSv3 as Basic tiers serve it.
docs/decisions/103-gcp-model-store-filestore.md says why Filestore and not a bucket.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
from llmops.components.errors import Problem, raise_if

SHARE_NAME = "models"
"""The file share's name (Filestore: 16 characters at most); the export path is `/models`."""
RESERVED_IP_RANGE = "10.29.255.248/29"
"""The /29 a Basic instance takes in its peered producer network: outside the default VPC range
(10.30.0.0/16) and K3s's pod and service ranges (10.42/16, 10.43/16)."""
# The ports a Basic-tier Filestore client talks to (cloud.google.com/filestore/docs/configuring-firewall):
# portmapper, NFS, mountd, NLM and statd; TCP and UDP.
NFS_PORTS = ("111", "2046", "2049", "2050", "4045")
MOUNT_OPTIONS = ("nfsvers=3", "hard", "nolock")
"""Basic tiers serve NFSv3 only. `nolock`: the download Job is the only writer, and the node
plugin runs no statd, so locks stay local to the client instead of hanging the mount."""
STORE_MODE = "0777"
"""csi-driver-nfs sets the share's root to this mode at mount (its `mountPermissions`): a new
share's root belongs to root, the download Job writes as an unprivileged user, and the pods take
no fsGroup (a recursive chown of the store at every mount). Who can mount at all is decided by
the export's IP ranges and the firewall."""


class FilestoreTier(enum.Enum):
    """Filestore service tier. Prices: https://cloud.google.com/filestore/pricing (read 2026-12:
    Basic HDD, us-central1 and us-west1, 0.000274 $/GiB-hour = 0.20 $/GiB-month)."""

    BASIC_HDD = "BASIC_HDD"
    """1 TiB minimum, 100 MB/s reads at 1 TiB (cloud.google.com/filestore/docs/performance). The
    only tier in this version: the others start at 2.5 TiB (Basic SSD) or cost more per GiB."""


MIN_CAPACITY_GIB = {FilestoreTier.BASIC_HDD: 1024}
"""Smallest share each tier provisions (cloud.google.com/filestore/docs/service-tiers)."""
USD_PER_GIB_MONTH = {FilestoreTier.BASIC_HDD: 0.20}
"""List price of provisioned capacity; Filestore bills what is provisioned, not what is stored."""


def capacity_gib(tier: FilestoreTier, size_gib: int) -> int:
    """What the instance provisions for `size_gib` of models: at least the tier's minimum."""
    return max(MIN_CAPACITY_GIB[tier], size_gib)


def monthly_cost(tier: FilestoreTier, size_gib: int) -> dict[str, float]:
    """Monthly Filestore cost by part, for the plan. Pure: provisioned capacity only (no transfer
    charge inside a zone; cross-zone reads are Compute Engine egress, not priced here)."""
    provisioned = capacity_gib(tier, size_gib)
    storage = provisioned * USD_PER_GIB_MONTH[tier]
    return {
        "provisioned_gib": float(provisioned),
        "storage_usd": round(storage, 2),
        "transfer_usd": 0.0,
        "monthly_usd": round(storage, 2),
    }


@dataclass(kw_only=True)
class GcpModelStoreArgs:
    """Inputs of `GcpModelStore`."""

    network_name: pulumi.Input[str]
    """Name of the cluster's VPC (`GcpNetwork.network.name`); the instance peers into it."""
    network_id: pulumi.Input[str]
    """Id of the same VPC, for the firewall rules (`GcpNetwork.network_id`)."""
    node_tag: str
    """Network tag of the cluster's nodes (`GcpNetwork.node_tag`): the only sender NFS is allowed from."""
    client_cidrs: Sequence[str]
    """Ranges the export admits: the cluster's subnetworks (`GcpNetwork.subnet_cidrs` values)."""
    zone: str
    """Zone of the instance (Basic tiers are zonal); put it where most GPU nodes run."""
    provider: k8s.Provider
    """Provider of the cluster, e.g. `K3sCluster.provider`."""
    namespace: pulumi.Input[str]
    """Namespace of the claim (where the models run)."""
    size_gib: int = 1024
    """Space for the models; the instance provisions at least the tier's minimum (1 TiB on Basic
    HDD), and bills that. Default: 1024 GiB."""
    tier: FilestoreTier = FilestoreTier.BASIC_HDD
    """Filestore tier; default and only choice: Basic HDD (see FilestoreTier)."""
    reserved_ip_range: str = RESERVED_IP_RANGE
    """The /29 the instance's address comes from; must overlap nothing the VPC routes."""


def store_problems(args: GcpModelStoreArgs, *, path: str = "args") -> list[Problem]:
    problems = []
    if args.size_gib < 1:
        problems.append(
            Problem(f"{path}.size_gib", args.size_gib, "must be >= 1", "give the space the models need")
        )
    if not args.client_cidrs:
        problems.append(
            Problem(
                f"{path}.client_cidrs",
                [],
                "is empty; no node could mount the store",
                "pass the cluster's subnetwork ranges (GcpNetwork.subnet_cidrs)",
            )
        )
    if not args.zone:
        problems.append(Problem(f"{path}.zone", args.zone, "is empty", "name a zone of the cluster's region"))
    return problems


def store_firewall_rules(
    name: str,
    *,
    network_id: pulumi.Input[str],
    node_tag: str,
    store_range: str,
    parent: pulumi.Resource,
) -> list[gcp.compute.Firewall]:
    """Egress rules of the VPC for the store: the nodes may reach its range on the NFS ports, every
    other VM of the network may not reach it at all. Filestore lives in a peered producer network,
    where this VPC's ingress rules do not apply; what reaches it is decided on the way out (and by
    the export's IP ranges)."""
    child = pulumi.ResourceOptions(parent=parent)
    allows = [gcp.compute.FirewallAllowArgs(protocol=p, ports=list(NFS_PORTS)) for p in ("tcp", "udp")]
    return [
        gcp.compute.Firewall(
            f"{name}-nfs-from-nodes",
            network=network_id,
            description="llmops model store: NFS to the Filestore instance from the cluster's nodes only",
            direction="EGRESS",
            priority=900,
            allows=allows,
            destination_ranges=[store_range],
            target_tags=[node_tag],
            opts=child,
        ),
        gcp.compute.Firewall(
            f"{name}-nfs-deny-others",
            network=network_id,
            description="llmops model store: nothing else in the network reaches the Filestore instance",
            direction="EGRESS",
            priority=1000,
            denies=[gcp.compute.FirewallDenyArgs(protocol="all")],
            destination_ranges=[store_range],
            opts=child,
        ),
    ]


class GcpModelStore(pulumi.ComponentResource):
    """The shared model store on GCP: Filestore, csi-driver-nfs, one static PV and its RWX claim."""

    claim_name: pulumi.Output[str]
    """Name of the ReadWriteMany claim the download Jobs and the replicas mount."""
    address: pulumi.Output[str]
    """The instance's NFS server address in the reserved range."""
    instance: gcp.filestore.Instance
    firewalls: list[gcp.compute.Firewall]

    def __init__(self, name: str, args: GcpModelStoreArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if(f"GcpModelStore {name!r}", store_problems(args))
        super().__init__("llmops:gcp:GcpModelStore", name, None, opts)
        from llmops.components.addons.nfs_store import NfsModelStore, NfsModelStoreArgs

        child = pulumi.ResourceOptions(parent=self)
        self.instance = gcp.filestore.Instance(
            f"{name}-filestore",
            tier=args.tier.value,
            location=args.zone,
            description=f"llmops model store {name}",
            file_shares=gcp.filestore.InstanceFileSharesArgs(
                name=SHARE_NAME,
                capacity_gb=capacity_gib(args.tier, args.size_gib),
                nfs_export_options=[
                    gcp.filestore.InstanceFileSharesNfsExportOptionArgs(
                        ip_ranges=sorted(args.client_cidrs),
                        access_mode="READ_WRITE",
                        # The node plugin (root) sets the share's mode at mount (STORE_MODE).
                        squash_mode="NO_ROOT_SQUASH",
                    )
                ],
            ),
            networks=[
                gcp.filestore.InstanceNetworkArgs(
                    network=args.network_name,
                    modes=["MODE_IPV4"],
                    connect_mode="DIRECT_PEERING",
                    reserved_ip_range=args.reserved_ip_range,
                )
            ],
            labels={"managed-by": "llmops"},
            opts=child,
        )
        self.firewalls = store_firewall_rules(
            name,
            network_id=args.network_id,
            node_tag=args.node_tag,
            store_range=args.reserved_ip_range,
            parent=self,
        )
        self.address = self.instance.networks.apply(_first_address)
        share = NfsModelStore(
            name,
            NfsModelStoreArgs(
                server=self.address,
                path=f"/{SHARE_NAME}",
                namespace=args.namespace,
                size_gib=args.size_gib,
                provider=args.provider,
                mount_options=MOUNT_OPTIONS,
                mount_permissions=STORE_MODE,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.instance, *self.firewalls]),
        )
        self.claim_name = share.claim_name
        self.register_outputs({"claimName": self.claim_name, "address": self.address})


def _first_address(networks: Sequence[gcp.filestore.outputs.InstanceNetwork]) -> str:
    addresses = [a for n in networks for a in (n.ip_addresses or [])]
    if not addresses:
        raise ValueError("the Filestore instance reported no IP address; it cannot be mounted")
    return addresses[0]
