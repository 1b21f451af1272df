"""Azure's part of a cluster spanning clouds: a Public IP Prefix per pool the scale set takes its
node addresses from natively, and a NIC-level security group admitting exactly the other clouds'
nodes (docs/decisions/130-static-node-addresses.md).

Inbound traffic must pass the subnet's group and then the NIC's. The subnet's group (inline rules,
network.py) lets the cross-cloud ports in from `Internet`; the NIC's group, built here once every
cloud's addresses exist, admits them from exactly the peers' addresses. Standalone rules are not
added to the subnet's group: inline and standalone rules on one group fight (pulumi-azure-native#3359).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_azure_native as azure
from llmops.components.azure.kit import prefix_length
from llmops.components.azure.network import NsgRule
from llmops.components.cloud import PEER_PORTS, NodeAddresses, PeerRanges, peer_sources


def subnet_openings(subnet: str) -> list[NsgRule]:
    """The agents' cross-cloud ports, let through the subnet's group; the NIC group decides who."""
    return [
        NsgRule(
            name=f"peers-{port.protocol}{port.port}",
            description=f"{port.description}; narrowed to the peers by the NIC-level group",
            protocol=port.protocol.capitalize(),
            sources=["Internet"],
            destinations=[subnet],
            ports=str(port.port),
        )
        for port in PEER_PORTS
        if port.targets != "servers"  # Azure hosts no servers of a cluster spanning clouds
    ]


def reserve(name: str, network: Any, count: int) -> NodeAddresses:
    prefix = azure.network.PublicIPPrefix(
        f"{name}-node-ips",
        resource_group_name=network.resource_group_name,
        location=network.location,
        prefix_length=prefix_length(count),
        public_ip_address_version=azure.network.IPVersion.I_PV4,
        sku=azure.network.PublicIPPrefixSkuArgs(name=azure.network.PublicIPPrefixSkuName.STANDARD),
        tags={"llmops.io/pool": name},
    )
    cidr = prefix.ip_prefix.apply(lambda value: value or "")
    return NodeAddresses(addresses=[cidr], native_pool=prefix.id)


def admit(name: str, network: Any, peers: PeerRanges) -> list[pulumi.Resource]:
    rules = []
    for index, port in enumerate(p for p in PEER_PORTS if p.targets != "servers"):
        rules.append(
            azure.network.SecurityRuleArgs(
                name=f"peers-{port.protocol}{port.port}",
                description=port.description,
                priority=100 + 10 * index,
                direction=azure.network.SecurityRuleDirection.INBOUND,
                access=azure.network.SecurityRuleAccess.ALLOW,
                protocol=port.protocol.capitalize(),
                source_address_prefixes=pulumi.Output.all(*peer_sources(peers, port)).apply(list),
                source_port_range="*",
                destination_address_prefix="*",
                destination_port_range=str(port.port),
            )
        )
    group = azure.network.NetworkSecurityGroup(
        name,
        resource_group_name=network.resource_group_name,
        location=network.location,
        security_rules=rules,
    )
    network.peer_security_group_id = group.id
    return [group]
