"""`AwsNetworkArgs` and its checks. Pure Python: the config layer runs the checks before any resource."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from llmops.components.aws.subnets import vpc_cidr_problems
from llmops.components.errors import MISSING, InputError, Problem, field_path
from llmops.components.k3s.render import FlannelBackend
from llmops.components.netguard import DEFAULT_MAX_PUBLIC_SHARE, range_problems

NetworkArgsError = InputError
"""Kept for old imports: bad network args raise the project's one input error."""


@dataclass(kw_only=True)
class AwsNetworkArgs:
    """Inputs of `AwsNetwork`."""

    api_allowed_cidrs: Sequence[str]
    """IPv4 ranges that may reach the Kubernetes API on 6443 (your office, CI); required, no default."""
    vpc_cidr: str = "10.20.0.0/16"
    """VPC range; default: 10.20.0.0/16, clear of K3s's pod (10.42/16) and service (10.43/16) ranges."""
    az_count: int = 2
    """Availability zones to spread subnets over; default: two, the fewest for spot diversity."""
    subnet_prefix: int = 20
    """Size of each subnet; default: /20 (4,091 usable addresses)."""
    flannel_backend: FlannelBackend = FlannelBackend.VXLAN
    """Pod network between nodes; decides which overlay port is opened. Default: VXLAN."""
    wireguard_peer_cidrs: Sequence[str] = ()
    """Other clouds' node addresses allowed to reach WireGuard UDP; default: none (one cloud)."""
    peer_firewall: bool = False
    """Nodes span clouds: add the security groups `peers.admit_peers` opens to the other clouds' node
    addresses (servers and agents apart); default: one cloud, none."""
    api_load_balancer: bool = False
    """Open 6443 to the VPC range for a load balancer's health checks; needed for 3 servers. Default: off."""
    allow_public_api: bool = False
    """Let `api_allowed_cidrs` cover more than `max_public_share` of the internet; default: refused."""
    max_public_share: float = DEFAULT_MAX_PUBLIC_SHARE
    """Largest share of the public IPv4 space one rule's ranges may cover together; default: 0.1%."""


def validate_network_args(
    args: AwsNetworkArgs, *, path: str = "args", keys: Mapping[str, str] | None = None
) -> list[Problem]:
    """Every problem of `args`; `keys` maps field names to the caller's key names (for key paths)."""
    keys = keys or {}

    def at(field: str) -> str:
        return field_path(path, keys, field)

    problems: list[Problem] = []
    for line in vpc_cidr_problems(args.vpc_cidr, args.az_count, args.subnet_prefix, path=path):
        where, _, rest = line.partition(": ")
        problems.append(Problem(where, MISSING, rest, ""))
    if args.az_count < 2:
        problems.append(
            Problem(
                at("az_count"),
                args.az_count,
                "is below 2; spot pools need at least two zones",
                "use 2 or more",
            )
        )
    # Address arithmetic, not string compares: 0.0.0.0/1 + 128.0.0.0/1 is the internet too.
    problems += range_problems(
        at("api_allowed_cidrs"),
        list(args.api_allowed_cidrs),
        max_public_share=args.max_public_share,
        allow_public=args.allow_public_api,
        open_key=keys.get("allow_public_api", "allow_public_api"),
    )
    problems += range_problems(
        at("wireguard_peer_cidrs"),
        list(args.wireguard_peer_cidrs),
        what="the WireGuard overlay",
        max_public_share=args.max_public_share,
        open_key=None,
    )
    if args.wireguard_peer_cidrs and args.flannel_backend is not FlannelBackend.WIREGUARD_NATIVE:
        problems.append(
            Problem(
                at("wireguard_peer_cidrs"),
                list(args.wireguard_peer_cidrs),
                f"is set while flannel_backend is {args.flannel_backend.value!r}",
                "use FlannelBackend.WIREGUARD_NATIVE for nodes in other clouds",
            )
        )
    return problems
