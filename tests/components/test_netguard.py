"""Firewall ranges by address arithmetic: written forms, the union's share of the internet."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llmops.components.netguard import (
    PUBLIC_V4_ADDRESSES,
    CidrError,
    cidr_problems,
    parse_cidr,
    public_share,
)


@pytest.mark.parametrize(
    ("text", "message", "fix"),
    [
        ("0.0.0.0/00", "is not written in canonical form (it means '0.0.0.0/0')", "write '0.0.0.0/0'"),
        ("0.0.0.0/0.0.0.0", "is not written in canonical form (it means '0.0.0.0/0')", "write '0.0.0.0/0'"),
        ("::0/0", "is not written in canonical form (it means '::/0')", "write '::/0'"),
        ("203.0.113.7", "has no prefix length", "write '203.0.113.7/32' for this one address"),
        (
            "10.1.2.3/16",
            "has host bits set; the block it names is '10.1.0.0/16'",
            "write '10.1.0.0/16' for the whole block or '10.1.2.3/32' for the one address",
        ),
        (
            "10.0.0.0/33",
            "is not a CIDR block ('10.0.0.0/33' does not appear to be an IPv4 or IPv6 network)",
            "write it like '203.0.113.0/24' or '198.51.100.7/32'",
        ),
    ],
)
def test_malformed_forms_show_the_normalised_one(text: str, message: str, fix: str) -> None:
    with pytest.raises(CidrError) as caught:
        parse_cidr(text)
    assert (caught.value.message, caught.value.fix) == (message, fix)


@pytest.mark.parametrize(
    "cidrs",
    [
        ["0.0.0.0/0"],
        ["0.0.0.0/1", "128.0.0.0/1"],
        [f"{i}.0.0.0/4" for i in range(0, 256, 16)],
        ["::/0"],
        ["::ffff:0:0/96"],
    ],
)
def test_the_whole_internet_in_any_shape_is_refused(cidrs: list[str]) -> None:
    problems = [p for p in cidr_problems(cidrs) if p.index is None]
    assert problems and "the whole public IPv4 internet" in problems[0].message
    assert cidr_problems(cidrs, allow_public=True) == []


def test_private_and_documentation_ranges_expose_nothing() -> None:
    assert public_share(
        [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "192.168.0.0/16", "172.16.0.0/12")]
    ) == (0, 0)
    share, _ = public_share([ipaddress.ip_network("8.0.0.0/8")])
    assert share == pytest.approx(2**24 / PUBLIC_V4_ADDRESSES)


def test_the_share_limit_is_configurable() -> None:
    office = ["198.51.0.0/16"]  # 65,536 public-ish addresses
    assert cidr_problems(["8.8.0.0/16"]) == []
    assert cidr_problems(["8.8.0.0/16"], max_public_share=1e-6)[0].message.startswith(
        "opens the Kubernetes API to 0.00"
    )
    assert cidr_problems(office) == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)), min_size=1, max_size=6))
def test_share_equals_a_brute_force_count(blocks: list[tuple[int, int]]) -> None:
    networks = [ipaddress.IPv4Network((address, prefix), strict=False) for address, prefix in blocks]
    share, _ = public_share(networks)
    # Count the union's public addresses another way: exclude non-public ranges block by block.
    from llmops.components.netguard import _NON_PUBLIC_V4

    remaining = list(ipaddress.collapse_addresses(networks))
    for out in _NON_PUBLIC_V4:
        pieces = []
        for block in remaining:
            if block.subnet_of(out):
                continue
            pieces.extend(block.address_exclude(out) if out.subnet_of(block) else [block])
        remaining = pieces
    assert share * PUBLIC_V4_ADDRESSES == pytest.approx(sum(b.num_addresses for b in remaining))
    # Splitting a block in two never changes the share (the old string check was fooled by this).
    halves = [h for n in networks for h in (n.subnets(1) if n.prefixlen < 32 else [n])]
    assert public_share(halves)[0] == pytest.approx(share)
