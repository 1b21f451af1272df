"""`AwsModelStore`: an EFS file system that every GPU node mounts, as one ReadWriteMany claim.

Weights are downloaded into it once (components/serving/model_store.py) and read by every
replica from there. The file system is encrypted at rest (KMS) and in transit (its policy
denies any connection without TLS); it has a mount target in each of the cluster's subnets
behind a security group that admits NFS only from the nodes' security group; and only the
node roles given may mount it (IAM authorisation, `iam` mount option).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from llmops.components.addons.charts import AWS_EFS_CSI_DRIVER, deep_merge, load_values
from llmops.components.addons.static_volume import static_claim

CHART = AWS_EFS_CSI_DRIVER
NFS_PORT = 2049
EFS_CSI_DRIVER = "efs.csi.aws.com"
# The download Job and the replicas read and write as this id; the access point maps every
# client to it, so the files' owner does not depend on the image's user.
STORE_UID = 10001


class ThroughputMode(enum.Enum):
    """How EFS meters throughput. Prices: us-east-1, https://aws.amazon.com/efs/pricing/ (2026)."""

    ELASTIC = "elastic"
    """Pay per GB read and written; scales to the file system's maximum at once. Default: a store is
    read in bursts (a replica start reads the whole model) and idle otherwise."""
    BURSTING = "bursting"
    """Throughput grows with the data stored (50 KiB/s per GiB, bursts to 100 MiB/s); no transfer
    charge. Cheapest for a store read rarely; slow for large models."""
    PROVISIONED = "provisioned"
    """A fixed MiB/s, paid per month whether used or not."""


# USD, us-east-1 (https://aws.amazon.com/efs/pricing/): Standard storage per GB-month; Elastic
# reads and writes per GB transferred; Provisioned per MiB/s-month.
STANDARD_USD_PER_GB_MONTH = 0.30
ELASTIC_READ_USD_PER_GB = 0.03
ELASTIC_WRITE_USD_PER_GB = 0.06
PROVISIONED_USD_PER_MIBPS_MONTH = 6.00


def monthly_cost(
    mode: ThroughputMode,
    stored_gb: float,
    read_gb_per_month: float,
    written_gb_per_month: float,
    provisioned_mibps: float = 0.0,
) -> dict[str, float]:
    """Monthly EFS cost by part, for the plan. Pure."""
    storage = stored_gb * STANDARD_USD_PER_GB_MONTH
    transfer = (
        read_gb_per_month * ELASTIC_READ_USD_PER_GB + written_gb_per_month * ELASTIC_WRITE_USD_PER_GB
        if mode is ThroughputMode.ELASTIC
        else 0.0
    )
    provisioned = (
        provisioned_mibps * PROVISIONED_USD_PER_MIBPS_MONTH if mode is ThroughputMode.PROVISIONED else 0.0
    )
    return {
        "storage_usd": round(storage, 2),
        "transfer_usd": round(transfer, 2),
        "provisioned_usd": round(provisioned, 2),
        "monthly_usd": round(storage + transfer + provisioned, 2),
    }


def file_system_policy(file_system_arn: str, node_role_arns: Sequence[str]) -> str:
    """Only the node roles may mount and write, and only over TLS."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyWithoutTls",
                    "Effect": "Deny",
                    "Principal": {"AWS": "*"},
                    "Action": "*",
                    "Resource": file_system_arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
                {
                    "Sid": "NodesMountThroughMountTargets",
                    "Effect": "Allow",
                    "Principal": {"AWS": sorted(node_role_arns)},
                    "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
                    "Resource": file_system_arn,
                    "Condition": {"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}},
                },
            ],
        }
    )


def node_mount_policy(file_system_arn: str) -> str:
    """The nodes' side of the same grant: this one file system, nothing else."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "MountTheModelStore",
                    "Effect": "Allow",
                    "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
                    "Resource": file_system_arn,
                    "Condition": {"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}},
                }
            ],
        }
    )


@dataclass(kw_only=True)
class AwsModelStoreArgs:
    """Inputs of `AwsModelStore`."""

    vpc_id: pulumi.Input[str]
    """VPC of the cluster (`AwsNetwork.vpc.id`)."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """The cluster's subnets; one mount target each (`AwsNetwork.subnet_ids`)."""
    nodes_security_group_id: pulumi.Input[str]
    """Security group of the nodes; the only source NFS is admitted from."""
    node_roles: Sequence[aws.iam.Role]
    """IAM roles of the nodes that mount the store (`AwsGpuNodePool.role` of each pool)."""
    provider: k8s.Provider
    """Provider of the cluster, e.g. `K3sCluster.provider`."""
    namespace: pulumi.Input[str]
    """Namespace of the claim (where the models run)."""
    size_gib: int = 500
    """Size the claim asks for; EFS grows as needed and bills what is stored, so this only documents
    the intended size (the stack checks the models fit). Default: 500 GiB."""
    throughput_mode: ThroughputMode = ThroughputMode.ELASTIC
    """EFS throughput metering; default: elastic (see ThroughputMode)."""
    provisioned_mibps: float = 0.0
    """MiB/s to provision when `throughput_mode` is provisioned."""
    node_selector: dict[str, str] = field(default_factory=lambda: {"llmops.io/cloud": "aws"})
    """Nodes that run the EFS node plugin; default: every AWS node (servers lack the IAM grant, so
    only pods on GPU nodes can mount)."""
    driver_namespace: str = "kube-system"
    """Namespace of the CSI driver release."""


def driver_values(args: AwsModelStoreArgs) -> dict[str, Any]:
    """Chart values: the file next to this module plus placement. Pure."""
    return deep_merge(load_values(CHART), {"node": {"nodeSelector": dict(args.node_selector)}})


def store_problems(args: AwsModelStoreArgs) -> list[str]:
    problems = []
    if not args.subnet_ids:
        problems.append("subnet_ids: empty. Fix: pass the cluster's subnets (AwsNetwork.subnet_ids)")
    if not args.node_roles:
        problems.append("node_roles: empty. Fix: pass the GPU pools' node roles (AwsGpuNodePool.role)")
    if args.size_gib < 1:
        problems.append(f"size_gib: {args.size_gib} must be >= 1. Fix: give the space the models need")
    if args.throughput_mode is ThroughputMode.PROVISIONED and args.provisioned_mibps <= 0:
        problems.append(
            f"provisioned_mibps: {args.provisioned_mibps} must be > 0 with throughput mode provisioned. "
            "Fix: give the MiB/s to provision, or use elastic"
        )
    return problems


class AwsModelStore(pulumi.ComponentResource):
    """The shared model store on AWS: EFS, the EFS CSI driver, one static PV and its RWX claim."""

    claim_name: pulumi.Output[str]
    """Name of the ReadWriteMany claim the download Jobs and the replicas mount."""
    file_system_id: pulumi.Output[str]
    file_system: aws.efs.FileSystem

    def __init__(self, name: str, args: AwsModelStoreArgs, opts: pulumi.ResourceOptions | None = None):
        problems = store_problems(args)
        if problems:
            raise ValueError(f"AwsModelStore {name!r}: invalid arguments:\n  - " + "\n  - ".join(problems))
        super().__init__("llmops:aws:AwsModelStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        mode = args.throughput_mode
        self.file_system = aws.efs.FileSystem(
            f"{name}-efs",
            encrypted=True,
            performance_mode="generalPurpose",
            throughput_mode=mode.value,
            provisioned_throughput_in_mibps=args.provisioned_mibps
            if mode is ThroughputMode.PROVISIONED
            else None,
            tags={"Name": f"{name}-models"},
            opts=child,
        )
        security_group = aws.ec2.SecurityGroup(
            f"{name}-efs-sg",
            description="llmops model store: NFS from the cluster's nodes only",
            vpc_id=args.vpc_id,
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    description="NFS from the nodes",
                    protocol="tcp",
                    from_port=NFS_PORT,
                    to_port=NFS_PORT,
                    security_groups=[args.nodes_security_group_id],
                )
            ],
            tags={"Name": f"{name}-efs"},
            opts=child,
        )
        mount_targets = [
            aws.efs.MountTarget(
                f"{name}-mount-{index}",
                file_system_id=self.file_system.id,
                subnet_id=subnet_id,
                security_groups=[security_group.id],
                opts=child,
            )
            for index, subnet_id in enumerate(args.subnet_ids)
        ]
        access_point = aws.efs.AccessPoint(
            f"{name}-access-point",
            file_system_id=self.file_system.id,
            posix_user=aws.efs.AccessPointPosixUserArgs(uid=STORE_UID, gid=STORE_UID),
            root_directory=aws.efs.AccessPointRootDirectoryArgs(
                path="/llmops-models",
                creation_info=aws.efs.AccessPointRootDirectoryCreationInfoArgs(
                    owner_uid=STORE_UID, owner_gid=STORE_UID, permissions="0755"
                ),
            ),
            tags={"Name": f"{name}-models"},
            opts=child,
        )
        aws.efs.FileSystemPolicy(
            f"{name}-efs-policy",
            file_system_id=self.file_system.id,
            policy=pulumi.Output.all(self.file_system.arn, *[r.arn for r in args.node_roles]).apply(
                lambda arns: file_system_policy(arns[0], arns[1:])
            ),
            opts=child,
        )
        for index, role in enumerate(args.node_roles):
            aws.iam.RolePolicy(
                f"{name}-node-mount-{index}",
                role=role.id,
                policy=self.file_system.arn.apply(node_mount_policy),
                opts=child,
            )

        cluster = pulumi.ResourceOptions(parent=self, provider=args.provider)
        driver = k8s.helm.v3.Release(
            f"{name}-efs-csi",
            name=f"{name}-efs-csi",
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
            size_gib=args.size_gib,
            mount_options=["iam"],
            csi=k8s.core.v1.CSIPersistentVolumeSourceArgs(
                driver=EFS_CSI_DRIVER,
                volume_handle=pulumi.Output.concat(self.file_system.id, "::", access_point.id),
                volume_attributes={"encryptInTransit": "true"},
            ),
            depends_on=[driver, *mount_targets],
        )
        self.file_system_id = self.file_system.id
        self.register_outputs({"claimName": self.claim_name, "fileSystemId": self.file_system_id})
