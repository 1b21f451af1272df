"""AWS's part of a cluster spanning clouds: Elastic IPs per pool, claimed at boot, and the security
groups that admit exactly the other clouds' nodes (docs/decisions/130-static-node-addresses.md).

The peer groups carry no inline rules: every opening is its own `aws.vpc.SecurityGroupIngressRule`,
created once every cloud's addresses exist (inline and standalone rules on one group fight).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
from llmops.components.cloud import PEER_PORTS, NodeAddresses, PeerRanges, peer_sources

CLAIM_SCRIPT = Path(__file__).resolve().parent / "scripts" / "claim-address.sh"
ADDRESS_SET_TAG = "llmops.io/address-set"
POOL_TAG = "llmops.io/pool"
ROLES = ("servers", "agents")


def address_set_name(name: str) -> str:
    """Unique per stack and pool: two stacks in one account never claim each other's addresses."""
    return f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}"


def peer_security_groups(
    name: str, vpc: aws.ec2.Vpc, parent: pulumi.Resource
) -> dict[str, aws.ec2.SecurityGroup]:
    """One empty group per role; `admit_peers` adds the openings, the machines carry the group."""
    return {
        role: aws.ec2.SecurityGroup(
            f"{name}-peers-{role}",
            description=f"llmops K3s {role}: openings for the cluster's nodes in other clouds only",
            vpc_id=vpc.id,
            tags={"Name": f"{name}-peers-{role}"},
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for role in ROLES
    }


def reserve(name: str, count: int) -> NodeAddresses:
    """`count` Elastic IPs tagged with the pool's address set, and the policy that lets exactly
    the pool's instances associate exactly these allocations."""
    address_set = address_set_name(name)
    eips = [
        aws.ec2.Eip(
            f"{name}-node-ip-{index}",
            domain="vpc",
            tags={"Name": f"{name}-node-{index}", ADDRESS_SET_TAG: address_set, POOL_TAG: name},
        )
        for index in range(count)
    ]
    policy = pulumi.Output.all(*[eip.arn for eip in eips]).apply(lambda arns: claim_policy(name, arns))
    return NodeAddresses(
        addresses=[eip.public_ip.apply(lambda ip: f"{ip}/32") for eip in eips],
        address_set=address_set,
        claim_script=CLAIM_SCRIPT,
        grants=[policy],
    )


def claim_policy(pool: str, eip_arns: Sequence[str | None]) -> str:
    """IAM policy: associate the set's Elastic IPs with instances tagged for the pool; listing
    addresses has no resource-level permission in EC2, so it is the one `*`."""
    document: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AssociateTheSetsAddresses",
                "Effect": "Allow",
                "Action": "ec2:AssociateAddress",
                "Resource": [arn for arn in eip_arns if arn],
            },
            {
                "Sid": "OnlyWithThePoolsInstances",
                "Effect": "Allow",
                "Action": "ec2:AssociateAddress",
                "Resource": ["arn:aws:ec2:*:*:instance/*", "arn:aws:ec2:*:*:network-interface/*"],
                "Condition": {"StringEquals": {f"aws:ResourceTag/{POOL_TAG}": pool}},
            },
            {"Sid": "FindTheSet", "Effect": "Allow", "Action": "ec2:DescribeAddresses", "Resource": "*"},
        ],
    }
    return json.dumps(document, sort_keys=True)


def grant_claim(name: str, role: aws.iam.Role, grants: Sequence[Any], parent: pulumi.Resource) -> None:
    for grant in grants:
        aws.iam.RolePolicy(
            f"{name}-claim-address",
            role=role.id,
            policy=grant,
            opts=pulumi.ResourceOptions(parent=parent),
        )


def admit(name: str, network: Any, peers: PeerRanges) -> list[pulumi.Resource]:
    """One ingress rule per opening and node address (/32), on the role's peer group."""
    groups: dict[str, aws.ec2.SecurityGroup] = network.peer_security_groups
    if not groups:
        raise ValueError(f"network {name!r} was built without peer security groups (NetworkSpec.cross_cloud)")
    rules: list[pulumi.Resource] = []
    for port in PEER_PORTS:
        targets = ROLES if port.targets == "nodes" else (port.targets,)
        for target in targets:
            for index, source in enumerate(peer_sources(peers, port)):
                rules.append(
                    aws.vpc.SecurityGroupIngressRule(
                        f"{name}-{target}-{port.protocol}{port.port}-{index}",
                        security_group_id=groups[target].id,
                        description=port.description,
                        ip_protocol=port.protocol,
                        from_port=port.port,
                        to_port=port.port,
                        cidr_ipv4=source,
                        opts=pulumi.ResourceOptions(parent=groups[target]),
                    )
                )
    return rules
