"""What cluster-autoscaler needs from AWS: tags on each pool's Auto Scaling group, and an IAM policy.

Pure tag and policy rendering (tested without Pulumi), plus one function that attaches the
policy to the role the autoscaler runs under (the K3s servers' instance role).

- Discovery: `k8s.io/cluster-autoscaler/enabled` and `k8s.io/cluster-autoscaler/<cluster>`
  on the group; the autoscaler lists only groups carrying both.
- Scale from zero: a group with no instance tells the autoscaler what a node would look like
  through `k8s.io/cluster-autoscaler/node-template/...` tags (labels, taints, GPU count).
- IAM: describing is account-wide (those calls take no resource), resizing and terminating
  are allowed only on groups tagged for this cluster.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws
from llmops.components.k3s.render import NodeTaint

TAG_PREFIX = "k8s.io/cluster-autoscaler"
ENABLED_TAG = f"{TAG_PREFIX}/enabled"
TEMPLATE_PREFIX = f"{TAG_PREFIX}/node-template"
GPU_RESOURCE = "nvidia.com/gpu"


def gpus_per_node(instance_types: Sequence[str]) -> int | None:
    """The fewest GPUs any of the pool's machine types carries (the capacity catalog), or None
    when the catalog lacks one of them."""
    from llmops.components.capacity.catalog import CatalogError, load_catalog

    catalog = load_catalog()
    counts = []
    for instance_type in instance_types:
        try:
            counts.append(catalog.instance_gpu("aws", instance_type)[1])
        except CatalogError:
            return None
    return min(counts) if counts else None


def cluster_tag(cluster_name: str) -> str:
    return f"{TAG_PREFIX}/{cluster_name}"


def discovery_tags(cluster_name: str) -> dict[str, str]:
    """The tags the autoscaler's `asg:tag=` auto-discovery selects on."""
    return {ENABLED_TAG: "true", cluster_tag(cluster_name): "owned"}


def node_template_tags(
    labels: Mapping[str, str], taints: Sequence[NodeTaint], gpus: int | None
) -> dict[str, str]:
    """What a node of an empty group would carry, so a pending GPU pod can scale it from zero."""
    tags = {f"{TEMPLATE_PREFIX}/label/{key}": value for key, value in sorted(labels.items())}
    for taint in taints:
        tags[f"{TEMPLATE_PREFIX}/taint/{taint.key}"] = f"{taint.value}:{taint.effect}"
    if gpus is not None:
        tags[f"{TEMPLATE_PREFIX}/resources/{GPU_RESOURCE}"] = str(gpus)
    return tags


def autoscaler_tags(
    cluster_name: str, labels: Mapping[str, str], taints: Sequence[NodeTaint], gpus: int | None
) -> dict[str, str]:
    """Discovery and node-template tags of one pool's group (never propagated to instances)."""
    return {**discovery_tags(cluster_name), **node_template_tags(labels, taints, gpus)}


def cluster_autoscaler_policy(cluster_name: str) -> str:
    """The IAM policy of cluster-autoscaler on AWS, resizing only this cluster's groups."""
    owned = {"StringEquals": {f"aws:ResourceTag/{cluster_tag(cluster_name)}": "owned"}}
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DescribeGroupsAndTemplates",
                    "Effect": "Allow",
                    # Describe calls support no resource-level permissions.
                    "Action": [
                        "autoscaling:DescribeAutoScalingGroups",
                        "autoscaling:DescribeAutoScalingInstances",
                        "autoscaling:DescribeLaunchConfigurations",
                        "autoscaling:DescribeScalingActivities",
                        "autoscaling:DescribeTags",
                        "ec2:DescribeImages",
                        "ec2:DescribeInstanceTypes",
                        "ec2:DescribeLaunchTemplateVersions",
                        "ec2:GetInstanceTypesFromInstanceRequirements",
                    ],
                    "Resource": "*",
                },
                {
                    "Sid": "ResizeThisClustersGroups",
                    "Effect": "Allow",
                    "Action": [
                        "autoscaling:SetDesiredCapacity",
                        "autoscaling:TerminateInstanceInAutoScalingGroup",
                    ],
                    "Resource": "*",
                    "Condition": owned,
                },
            ],
        }
    )


def attach_cluster_autoscaler_policy(
    name: str, role: aws.iam.Role, cluster_name: str, opts: pulumi.ResourceOptions | None = None
) -> aws.iam.RolePolicy:
    """The autoscaler's policy as an inline policy `{name}-cluster-autoscaler` of `role`."""
    return aws.iam.RolePolicy(
        f"{name}-cluster-autoscaler",
        role=role.id,
        policy=cluster_autoscaler_policy(cluster_name),
        opts=opts,
    )
