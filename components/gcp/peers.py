"""GCP's part of a cluster spanning clouds: reserved external addresses per pool, claimed at boot
under a custom role as narrow as IAM conditions allow, and firewall rules admitting exactly the
other clouds' nodes (docs/decisions/130-static-node-addresses.md)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pulumi
import pulumi_gcp as gcp
from llmops.components.cloud import PEER_PORTS, NodeAddresses, PeerRanges, peer_sources

CLAIM_SCRIPT = Path(__file__).resolve().parent / "scripts" / "claim-address.sh"
ADDRESS_SET_LABEL = "llmops-address-set"
CLAIM_PERMISSIONS = (
    "compute.instances.get",
    "compute.instances.addAccessConfig",
    "compute.instances.deleteAccessConfig",
    "compute.addresses.use",
    "compute.subnetworks.useExternalIp",
)
"""What swapping an access config takes; bound with a condition naming the pool's VMs and addresses."""
LIST_PERMISSIONS = ("compute.addresses.list",)
"""Listing has no per-resource check in Compute Engine: a separate, unconditioned role of one permission."""


def address_set_name(name: str) -> str:
    """A label value and name prefix: lowercase, at most 40 characters, unique per stack and pool."""
    digest = hashlib.sha256(f"{pulumi.get_project()}/{pulumi.get_stack()}/{name}".encode()).hexdigest()[:6]
    stem = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:30]
    return f"{stem}-{digest}"


def reserve(name: str, region: str, count: int) -> NodeAddresses:
    address_set = address_set_name(name)
    addresses = [
        gcp.compute.Address(
            f"{name}-node-ip-{index}",
            name=f"{address_set}-{index}",
            region=region,
            address_type="EXTERNAL",
            description=f"llmops K3s pool {name}: node address {index}, claimed at boot",
            labels={ADDRESS_SET_LABEL: address_set},
        )
        for index in range(count)
    ]
    return NodeAddresses(
        addresses=[address.address.apply(lambda ip: f"{ip}/32") for address in addresses],
        address_set=address_set,
        claim_script=CLAIM_SCRIPT,
    )


def claim_condition(project: str, pool: str, address_set: str) -> str:
    """CEL: only the pool's VMs (MIG names `<pool>-xxxx`), the set's addresses and the subnetworks."""
    return (
        f'resource.name.startsWith("projects/{project}/zones/") && '
        f'resource.name.extract("/instances/{{name}}").startsWith("{pool}-") || '
        f'resource.name.extract("/addresses/{{name}}").startsWith("{address_set}-") || '
        'resource.type == "compute.googleapis.com/Subnetwork"'
    )


def _role_id(pool: str, suffix: str) -> str:
    digest = hashlib.sha256(f"{pulumi.get_project()}/{pulumi.get_stack()}/{pool}".encode()).hexdigest()[:8]
    return f"llmops_{suffix}_{digest}"


def grant_claim(
    name: str, account: gcp.serviceaccount.Account, address_set: str, project: str, parent: pulumi.Resource
) -> None:
    child = pulumi.ResourceOptions(parent=parent)
    member = account.email.apply(lambda email: f"serviceAccount:{email}")
    claim = gcp.projects.IAMCustomRole(
        f"{name}-claim-role",
        role_id=_role_id(name, "claim"),
        title=f"llmops {name}: claim a reserved node address",
        permissions=list(CLAIM_PERMISSIONS),
        opts=child,
    )
    gcp.projects.IAMMember(
        f"{name}-claim",
        project=project,
        role=claim.name,
        member=member,
        condition=gcp.projects.IAMMemberConditionArgs(
            title="own VMs and addresses",
            expression=claim_condition(project, name, address_set),
        ),
        opts=child,
    )
    listing = gcp.projects.IAMCustomRole(
        f"{name}-list-role",
        role_id=_role_id(name, "list"),
        title=f"llmops {name}: find the reserved node addresses",
        permissions=list(LIST_PERMISSIONS),
        opts=child,
    )
    gcp.projects.IAMMember(f"{name}-list", project=project, role=listing.name, member=member, opts=child)


def admit(name: str, network: Any, peers: PeerRanges) -> list[pulumi.Resource]:
    """One firewall rule per opening, its sources exactly the peers' addresses."""
    agent_tag = f"{name}-agent"
    network.agent_tags = (agent_tag,)
    targets = {"servers": network.server_tag, "agents": agent_tag, "nodes": network.node_tag}
    rules: list[pulumi.Resource] = []
    for port in PEER_PORTS:
        sources = peer_sources(peers, port)
        if not sources:
            continue
        rules.append(
            gcp.compute.Firewall(
                f"{name}-{port.protocol}{port.port}",
                network=network.network.id,
                description=f"{port.description}, from the cluster's nodes' static addresses",
                direction="INGRESS",
                allows=[gcp.compute.FirewallAllowArgs(protocol=port.protocol, ports=[str(port.port)])],
                source_ranges=pulumi.Output.all(*sources).apply(list),
                target_tags=[targets[port.targets]],
            )
        )
    return rules
