"""Distinct public addresses for the offline plan's mocks, one per node-address resource. Pure.

A cluster spanning clouds reserves an address per node, and every firewall lists them; mock
answers that gave every reservation the same address would hide a rule that admits the wrong
one. The addresses come from 198.18.0.0/15 (RFC 2544, benchmarking: never routed on the
internet), placed by a hash of the resource name, so a plan is the same run after run.
"""

from __future__ import annotations

import hashlib
import ipaddress

PLAN_RANGE = ipaddress.ip_network("198.18.0.0/15")


def plan_node_address(name: str, block: int = 1) -> str:
    """An address of `PLAN_RANGE` for resource `name`, aligned to `block` addresses (a prefix's size)."""
    slots = PLAN_RANGE.num_addresses // block
    index = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") % slots
    return str(PLAN_RANGE.network_address + index * block)


def is_node_address_resource(name: str) -> bool:
    """Kits name their node-address reservations `<pool>-node-ip...`."""
    return "-node-ip" in name
