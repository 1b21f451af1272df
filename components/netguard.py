"""Firewall source ranges checked by address arithmetic, for every cloud's rules (pure Python).

A string comparison against `0.0.0.0/0` lets `0.0.0.0/1` + `128.0.0.0/1`, `0.0.0.0/00`,
`0.0.0.0/0.0.0.0` or `::0/0` through. Here every range is parsed with `ipaddress`, written forms
other than the canonical one are refused (the fix shows the canonical form), and the union of all
ranges is measured against the public address space: a set of ranges may not cover more than
`max_public_share` of it unless the caller opens it on purpose (`allow_public`).

The config check (`infra`) and the cloud network components call the same functions, so a
component used on its own is guarded too.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmops.components.errors import Problem

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_MAX_PUBLIC_SHARE = 0.001
"""0.1 % of the public IPv4 space (about 3.7 million addresses, a /10): far more than any office,
VPN or CI range, far less than "the internet"."""

# IPv4 ranges that are not globally reachable (IANA IPv4 Special-Purpose Address Registry, RFC 6890
# and its updates): opening a rule to them exposes nothing on the internet.
_NON_PUBLIC_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
)
# The IPv6 space that is routed on the internet: global unicast (RFC 4291, 3587).
_PUBLIC_V6 = ipaddress.IPv6Network("2000::/3")
_NON_PUBLIC_V6 = tuple(ipaddress.IPv6Network(n) for n in ("2001:db8::/32", "2002::/16", "2001::/23"))
# IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) reach IPv4 hosts on dual-stack sockets.
_V4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")

PUBLIC_V4_ADDRESSES = 2**32 - sum(n.num_addresses for n in _NON_PUBLIC_V4)
PUBLIC_V6_ADDRESSES = _PUBLIC_V6.num_addresses - sum(n.num_addresses for n in _NON_PUBLIC_V6)


@dataclass(frozen=True)
class CidrProblem:
    """One problem with a list of ranges: `index` is the entry (None: the list as a whole)."""

    index: int | None
    value: object
    message: str
    fix: str


class CidrError(ValueError):
    def __init__(self, message: str, fix: str):
        super().__init__(message)
        self.message = message
        self.fix = fix


def parse_cidr(text: object, *, ipv6: bool = True) -> IPNetwork:
    """The network `text` names, written canonically; CidrError (with the canonical form) otherwise."""
    if not isinstance(text, str):
        raise CidrError("is not a CIDR block (not a string)", "write it like '203.0.113.0/24'")
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise CidrError(
            f"is not a CIDR block ({exc})", "write it like '203.0.113.0/24' or '198.51.100.7/32'"
        ) from None
    canonical = str(network)
    if network.version == 6 and not ipv6:
        raise CidrError(
            "is an IPv6 range; these rules take IPv4 ranges only",
            "list the IPv4 ranges of the networks, e.g. '203.0.113.0/24'",
        )
    if "/" not in text:
        raise CidrError("has no prefix length", f"write {canonical!r} for this one address")
    address = text.partition("/")[0]
    if _is_address(address) and network.network_address != ipaddress.ip_address(address):
        host = ipaddress.ip_interface(text)
        single = f" or '{host.ip}/{host.max_prefixlen}' for the one address"
        raise CidrError(
            f"has host bits set; the block it names is {canonical!r}",
            f"write {canonical!r} for the whole block{single}",
        )
    if text != canonical:
        raise CidrError(f"is not written in canonical form (it means {canonical!r})", f"write {canonical!r}")
    return network


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def public_share(networks: Iterable[IPNetwork]) -> tuple[float, float]:
    """(share of the public IPv4 space, share of the public IPv6 space) the union of `networks` covers.

    IPv4-mapped IPv6 ranges count towards IPv4. CIDR blocks either nest or are disjoint, so after
    collapsing, each block's overlap with a non-public range is the smaller of the two.
    """
    v4: list[ipaddress.IPv4Network] = []
    v6: list[ipaddress.IPv6Network] = []
    for network in networks:
        if isinstance(network, ipaddress.IPv4Network):
            v4.append(network)
        elif network.overlaps(_V4_MAPPED):
            inner = network if network.subnet_of(_V4_MAPPED) else _V4_MAPPED
            mapped = ipaddress.IPv4Network((int(inner.network_address) & 0xFFFFFFFF, inner.prefixlen - 96))
            v4.append(mapped)
            if network != inner:
                v6.append(network)
        else:
            v6.append(network)
    covered_v4 = _covered(ipaddress.collapse_addresses(v4), None, _NON_PUBLIC_V4)
    covered_v6 = _covered(ipaddress.collapse_addresses(v6), _PUBLIC_V6, _NON_PUBLIC_V6)
    return covered_v4 / PUBLIC_V4_ADDRESSES, covered_v6 / PUBLIC_V6_ADDRESSES


def _covered(blocks: Iterable[IPNetwork], within: IPNetwork | None, excluded: Sequence[IPNetwork]) -> int:
    total = 0
    for block in blocks:
        if within is not None:
            if not block.overlaps(within):
                continue
            block = block if block.subnet_of(within) else within  # type: ignore[arg-type]
        size = block.num_addresses
        for out in excluded:
            if block.overlaps(out):
                size -= min(block.num_addresses, out.num_addresses)
        total += max(0, size)
    return total


def cidr_problems(
    cidrs: Sequence[object],
    *,
    what: str = "the Kubernetes API",
    ipv6: bool = True,
    max_public_share: float = DEFAULT_MAX_PUBLIC_SHARE,
    allow_public: bool = False,
    open_key: str | None = "allowPublicApi",
) -> list[CidrProblem]:
    """Every malformed entry, then whether the union covers more public space than allowed."""
    problems: list[CidrProblem] = []
    networks: list[IPNetwork] = []
    for index, text in enumerate(cidrs):
        try:
            networks.append(parse_cidr(text, ipv6=ipv6))
        except CidrError as exc:
            problems.append(CidrProblem(index, text, exc.message, exc.fix))
    if allow_public or not networks:
        return problems
    share_v4, share_v6 = public_share(networks)
    for family, share in (("IPv4", share_v4), ("IPv6", share_v6)):
        if share > max_public_share:
            everything = share >= 0.999999
            extent = (
                f"the whole public {family} internet"
                if everything
                else f"{share:.2%} of the public {family} internet"
            )
            problems.append(
                CidrProblem(
                    None,
                    list(cidrs),
                    f"{'together open' if len(networks) > 1 else 'opens'} {what} to {extent} "
                    f"(the limit is {max_public_share:.2%})",
                    "list only the networks that need it (office, VPN, CI)"
                    + (f", or set {open_key}: true to open it on purpose" if open_key else ""),
                )
            )
    return problems


def range_problems(
    at: str,
    cidrs: Sequence[object],
    *,
    what: str = "the Kubernetes API",
    max_public_share: float = DEFAULT_MAX_PUBLIC_SHARE,
    allow_public: bool = False,
    open_key: str | None = "allowPublicApi",
) -> list[Problem]:
    """`cidr_problems` for the IPv4 ranges at key path `at`, as the project's `Problem`s (an entry's
    problem at `at[i]`, the union's at `at`): what every cloud's firewall check reports."""
    from llmops.components.errors import Problem, key_path

    return [
        Problem(
            at if problem.index is None else key_path(at, f"[{problem.index}]"),
            problem.value,
            problem.message,
            problem.fix,
        )
        for problem in cidr_problems(
            cidrs,
            what=what,
            ipv6=False,
            max_public_share=max_public_share,
            allow_public=allow_public,
            open_key=open_key,
        )
    ]
