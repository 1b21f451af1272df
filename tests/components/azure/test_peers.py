"""Azure's part of a cluster spanning clouds, pure parts: prefix sizes and the subnet's openings."""

from __future__ import annotations

import pytest
from llmops.components.azure.kit import KIT, MAX_PREFIX_ADDRESSES, prefix_length
from llmops.components.azure.network import nsg_rules
from llmops.components.azure.network_args import AzureNetworkArgs


@pytest.mark.parametrize(
    ("count", "length"), [(1, 31), (2, 31), (3, 30), (4, 30), (5, 29), (8, 29), (9, 28), (16, 28)]
)
def test_prefix_is_the_smallest_holding_the_pool(count: int, length: int) -> None:
    assert prefix_length(count) == length
    assert KIT.reserved_addresses(count) == 2 ** (32 - length) >= count
    assert KIT.max_node_addresses == MAX_PREFIX_ADDRESSES == 16


def test_subnet_lets_only_the_agents_cross_cloud_ports_through() -> None:
    args = AzureNetworkArgs(api_allowed_cidrs=["203.0.113.0/24"], peer_firewall=True)
    internet = [rule for rule in nsg_rules(args) if "Internet" in rule.sources]
    assert {(rule.protocol, rule.ports) for rule in internet} == {("Udp", "51820"), ("Tcp", "10250")}
    assert all(rule.destinations == ["10.30.0.0/20"] for rule in internet)


def test_one_cloud_opens_nothing_to_the_internet() -> None:
    args = AzureNetworkArgs(api_allowed_cidrs=["203.0.113.0/24"])
    assert not [rule for rule in nsg_rules(args) if "Internet" in rule.sources]
