"""Address planning for the AWS network. Pure Python (property-tested)."""

from __future__ import annotations

import ipaddress

# K3s's defaults for pod and service addresses; the VPC must not overlap them or pods
# could not reach nodes.
K3S_CLUSTER_CIDR = "10.42.0.0/16"
K3S_SERVICE_CIDR = "10.43.0.0/16"

# AWS reserves the first four addresses and the last one of every subnet.
_AWS_RESERVED_LOW = 4
SERVER_HOST_OFFSET = 10
"""Servers take fixed addresses from the 10th host of their subnet on, clear of AWS's reserved ones."""


def vpc_cidr_problems(
    vpc_cidr: str, subnet_count: int, subnet_prefix: int, *, path: str = "args"
) -> list[str]:
    """Every problem with a VPC range and its subnet split, in the project's message style."""
    problems: list[str] = []
    try:
        network = ipaddress.ip_network(vpc_cidr, strict=True)
    except ValueError as exc:
        return [f"{path}.vpc_cidr: {vpc_cidr!r} is not a network address ({exc}); write e.g. '10.20.0.0/16'"]
    if not isinstance(network, ipaddress.IPv4Network):
        return [f"{path}.vpc_cidr: {vpc_cidr!r} is IPv6; the VPC needs an IPv4 range such as '10.20.0.0/16'"]
    if not 16 <= network.prefixlen <= 24:
        problems.append(
            f"{path}.vpc_cidr: {vpc_cidr!r} has prefix /{network.prefixlen}; AWS allows /16 to /24"
        )
    for name, k3s_range in (("pod", K3S_CLUSTER_CIDR), ("service", K3S_SERVICE_CIDR)):
        if network.overlaps(ipaddress.ip_network(k3s_range)):
            problems.append(
                f"{path}.vpc_cidr: {vpc_cidr!r} overlaps K3s's {name} range {k3s_range}; "
                "pick another range, e.g. '10.20.0.0/16'"
            )
    if subnet_prefix < network.prefixlen or subnet_prefix > 28:
        problems.append(
            f"{path}.subnet_prefix: /{subnet_prefix} does not fit inside {vpc_cidr}; "
            f"use /{network.prefixlen} to /28"
        )
    elif 2 ** (subnet_prefix - network.prefixlen) < subnet_count:
        problems.append(
            f"{path}.subnet_prefix: {subnet_count} subnets of /{subnet_prefix} do not fit in {vpc_cidr}; "
            "use a longer prefix or a larger VPC"
        )
    return problems


def subnet_cidrs(vpc_cidr: str, count: int, prefix: int) -> list[str]:
    """The first `count` non-overlapping /`prefix` blocks of `vpc_cidr`, in address order."""
    network = ipaddress.ip_network(vpc_cidr, strict=True)
    blocks = network.subnets(new_prefix=prefix)
    result: list[str] = []
    for _ in range(count):
        result.append(str(next(blocks)))
    return result


def server_address(subnet_cidr: str, index_in_subnet: int) -> str:
    """Fixed private address of the `index_in_subnet`-th server placed in `subnet_cidr`."""
    subnet = ipaddress.ip_network(subnet_cidr, strict=True)
    offset = SERVER_HOST_OFFSET + index_in_subnet
    if offset < _AWS_RESERVED_LOW or offset >= subnet.num_addresses - 1:
        raise ValueError(f"subnet {subnet_cidr} has no host number {offset} for a server")
    return str(subnet.network_address + offset)
