"""`AzureNetworkArgs`, its checks and the address arithmetic. Pure Python: the config layer runs the
checks before any resource."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from llmops.components.errors import Problem, field_path
from llmops.components.k3s.render import FlannelBackend
from llmops.components.netguard import DEFAULT_MAX_PUBLIC_SHARE, range_problems

SERVER_HOST_OFFSET = 10
"""Server i takes the subnet's address number 10 + i (Azure reserves the first four and the last)."""


@dataclass(kw_only=True)
class AzureNetworkArgs:
    """Inputs of `AzureNetwork`."""

    api_allowed_cidrs: Sequence[str]
    """IPv4 ranges that may reach the Kubernetes API on 6443 (your office, CI); required, no default."""
    vnet_cidr: str = "10.30.0.0/16"
    """Virtual network range; default: 10.30.0.0/16, clear of K3s's pod (10.42/16) and service (10.43/16)
    ranges and of the AWS default (10.20/16)."""
    subnet_prefix: int = 20
    """Size of the one subnet (Azure subnets span all zones); default: /20."""
    flannel_backend: FlannelBackend = FlannelBackend.VXLAN
    """Pod network between nodes; decides which overlay port is opened. Default: VXLAN."""
    server_count: int = 1
    """Servers whose fixed addresses the rules name; default: one."""
    peer_firewall: bool = False
    """Nodes span clouds: the subnet's group lets the cross-cloud ports through, and a NIC-level group
    (`peers.admit_peers`) narrows them to exactly the other clouds' nodes; default: one cloud."""
    allow_public_api: bool = False
    """Let `api_allowed_cidrs` cover more than `max_public_share` of the internet; default: refused."""
    max_public_share: float = DEFAULT_MAX_PUBLIC_SHARE
    """Largest share of the public IPv4 space the API ranges may cover together; default: 0.1%."""
    vault_name: str | None = None
    """Key Vault name (globally unique, 3-24 characters); default: `llmops-` + a hash of the
    project, stack and network name."""


def subnet_cidr(args: AzureNetworkArgs) -> str:
    network = ipaddress.IPv4Network(args.vnet_cidr, strict=True)
    return str(next(network.subnets(new_prefix=args.subnet_prefix)))


def server_addresses(args: AzureNetworkArgs) -> list[str]:
    subnet = ipaddress.IPv4Network(subnet_cidr(args))
    return [str(subnet.network_address + SERVER_HOST_OFFSET + i) for i in range(args.server_count)]


def default_vault_name(project: str, stack: str, network: str) -> str:
    digest = hashlib.sha256(f"{project}/{stack}/{network}".encode()).hexdigest()
    return f"llmops-{digest[:16]}"


def validate_network_args(
    args: AzureNetworkArgs, *, path: str = "args", keys: Mapping[str, str] | None = None
) -> list[Problem]:
    keys = keys or {}

    def at(field: str) -> str:
        return field_path(path, keys, field)

    problems: list[Problem] = []
    try:
        vnet = ipaddress.IPv4Network(args.vnet_cidr, strict=True)
    except ValueError as exc:
        problems.append(
            Problem(
                at("vnet_cidr"), args.vnet_cidr, f"is not an IPv4 network ({exc})", "use e.g. 10.30.0.0/16"
            )
        )
    else:
        k3s_ranges = [ipaddress.IPv4Network("10.42.0.0/16"), ipaddress.IPv4Network("10.43.0.0/16")]
        if any(vnet.overlaps(r) for r in k3s_ranges):
            problems.append(
                Problem(
                    at("vnet_cidr"),
                    args.vnet_cidr,
                    "overlaps K3s's pod (10.42.0.0/16) or service (10.43.0.0/16) range",
                    "use a range such as 10.30.0.0/16",
                )
            )
        if not vnet.prefixlen <= args.subnet_prefix <= 28:
            problems.append(
                Problem(
                    at("subnet_prefix"),
                    args.subnet_prefix,
                    f"does not fit the virtual network /{vnet.prefixlen} (or is smaller than /28)",
                    f"use a prefix between {vnet.prefixlen} and 28",
                )
            )
    # The same address arithmetic as every cloud's firewall (components/netguard.py).
    problems += range_problems(
        at("api_allowed_cidrs"),
        list(args.api_allowed_cidrs),
        max_public_share=args.max_public_share,
        allow_public=args.allow_public_api,
        open_key=keys.get("allow_public_api", "allow_public_api"),
    )
    name = args.vault_name
    if name is not None and not (
        3 <= len(name) <= 24
        and name[0].isalpha()
        and all(c.isalnum() or c == "-" for c in name)
        and not name.endswith("-")
        and "--" not in name
    ):
        problems.append(
            Problem(
                at("vault_name"),
                name,
                "is not a Key Vault name (3-24 letters, digits and single hyphens, starting with a letter)",
                "pick another name",
            )
        )
    return problems
