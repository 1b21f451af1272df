"""`GcpNetwork`: subnetworks per region, firewall rules (no SSH, API only from allowed ranges), egress."""

from __future__ import annotations

import ipaddress
from typing import Any

import pulumi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llmops.components.gcp.network import (
    API_PORT,
    Egress,
    GcpNetwork,
    GcpNetworkArgs,
    NetworkArgsError,
    egress_usd_per_month,
    server_address,
    subnet_cidrs,
    validate_network_args,
)
from llmops.components.k3s.render import FlannelBackend

from tests.components.gcp.mocks import GcpRecordingMocks
from tests.components.k3s.mocks import RecordingMocks, run_program

ALLOWED = "198.51.100.0/24"


def _build(args: GcpNetworkArgs) -> RecordingMocks:
    def program() -> dict[str, pulumi.Output[Any]]:
        network = GcpNetwork("net", args)
        return {"id": network.network_id}

    return run_program(program, mocks=GcpRecordingMocks())[0]


def _ports(rule: dict[str, Any]) -> set[int]:
    ports: set[int] = set()
    for allow in rule["allows"]:
        for text in allow.get("ports", []):
            low, _, high = text.partition("-")
            ports.update(range(int(low), int(high or low) + 1))
    return ports


def _opens_to_internet(rule: dict[str, Any]) -> bool:
    return any(ipaddress.ip_network(r).prefixlen == 0 for r in rule.get("sourceRanges") or [])


def test_firewall_never_opens_ssh_or_the_api_to_the_internet() -> None:
    mocks = _build(GcpNetworkArgs(api_allowed_cidrs=[ALLOWED], regions=["us-central1", "europe-west4"]))
    rules = [r.inputs for r in mocks.of_type("gcp:compute/firewall:Firewall")]
    assert len(rules) == 5
    for rule in rules:
        assert rule["direction"] == "INGRESS"
        assert 22 not in _ports(rule), rule
        assert not _opens_to_internet(rule), rule
        # Every rule has a source: tags of the cluster's own nodes or the allowed ranges.
        assert rule.get("sourceTags") or rule.get("sourceRanges")
    api = [r for r in rules if API_PORT in _ports(r)]
    assert {tuple(r.get("sourceRanges") or ()) for r in api} == {(), (ALLOWED,)}
    assert all(r["targetTags"] == ["net-server"] for r in api)
    by_source_tags = [r for r in api if r.get("sourceTags")]
    assert by_source_tags[0]["sourceTags"] == ["net-node"]


def test_node_to_node_opens_only_what_k3s_needs() -> None:
    vxlan = _build(GcpNetworkArgs(api_allowed_cidrs=[ALLOWED]))
    wireguard = _build(
        GcpNetworkArgs(
            api_allowed_cidrs=[ALLOWED],
            flannel_backend=FlannelBackend.WIREGUARD_NATIVE,
            wireguard_peer_cidrs=["203.0.113.0/24"],
        )
    )
    node_rules = {
        r.name: (r.inputs["allows"][0]["protocol"], _ports(r.inputs))
        for r in vxlan.of_type("gcp:compute/firewall:Firewall")
        if r.inputs["targetTags"] == ["net-node"]
    }
    assert node_rules == {"net-kubelet": ("tcp", {10250}), "net-overlay": ("udp", {8472})}
    overlay = wireguard.named("net-overlay").inputs
    assert _ports(overlay) == {51820, 51821}
    peers = wireguard.named("net-wireguard-peers").inputs
    assert peers["sourceRanges"] == ["203.0.113.0/24"] and _ports(peers) == {51820, 51821}
    etcd = vxlan.named("net-etcd").inputs
    assert etcd["sourceTags"] == etcd["targetTags"] == ["net-server"]


def test_one_subnetwork_per_region_with_private_google_access() -> None:
    mocks = _build(GcpNetworkArgs(api_allowed_cidrs=[ALLOWED], regions=["us-central1", "europe-west4"]))
    subnets = {r.inputs["region"]: r.inputs for r in mocks.of_type("gcp:compute/subnetwork:Subnetwork")}
    assert {region: s["ipCidrRange"] for region, s in subnets.items()} == {
        "us-central1": "10.30.0.0/20",
        "europe-west4": "10.30.16.0/20",
    }
    assert all(s["privateIpGoogleAccess"] for s in subnets.values())
    (vpc,) = mocks.of_type("gcp:compute/network:Network")
    assert vpc.inputs["autoCreateSubnetworks"] is False
    assert mocks.of_type("gcp:compute/routerNat:RouterNat") == []


def test_cloud_nat_is_one_gateway_per_region() -> None:
    mocks = _build(
        GcpNetworkArgs(
            api_allowed_cidrs=[ALLOWED], regions=["us-central1", "us-east4"], egress=Egress.CLOUD_NAT
        )
    )
    nats = mocks.of_type("gcp:compute/routerNat:RouterNat")
    assert sorted(n.inputs["region"] for n in nats) == ["us-central1", "us-east4"]
    for nat in nats:
        assert nat.inputs["router"] == f"{nat.name.removesuffix('-nat')}-router"
        assert nat.inputs["natIpAllocateOption"] == "AUTO_ONLY"


def test_egress_prices() -> None:
    # 2 on-demand + 2 spot nodes: 2 x 0.005 + 2 x 0.0025 $/h over 730 h.
    assert egress_usd_per_month(Egress.EXTERNAL_IPS, nodes=4, spot_nodes=2) == pytest.approx(10.95)
    assert egress_usd_per_month(Egress.CLOUD_NAT, nodes=4) == pytest.approx(4 * 0.0014 * 730)
    assert egress_usd_per_month(Egress.CLOUD_NAT, nodes=100) == pytest.approx(0.044 * 730)
    assert egress_usd_per_month(Egress.CLOUD_NAT, nodes=1, nat_gib=100) == pytest.approx(0.0014 * 730 + 4.5)


def test_bad_args_are_all_reported() -> None:
    problems = validate_network_args(
        GcpNetworkArgs(
            api_allowed_cidrs=["0.0.0.0/0", "10.0.0.1/8"],
            regions=["us-central1", "us-central1"],
            network_cidr="10.40.0.0/14",
            flannel_backend=FlannelBackend.WIREGUARD_NATIVE,
            egress=Egress.CLOUD_NAT,
        )
    )
    text = "\n".join(problems)
    assert (
        'args.api_allowed_cidrs: ["0.0.0.0/0", "10.0.0.1/8"] opens the Kubernetes API to the whole public '
        "IPv4 internet" in text
    )
    # The shared guard's Problems, in the project's one message format.
    assert "(the limit is 0.10%). Fix: list only the networks that need it" in text
    assert "args.api_allowed_cidrs[1]: '10.0.0.1/8' has host bits set" in text
    assert "args.regions: ['us-central1', 'us-central1'] names a region twice" in text
    assert "overlaps K3s's pod range 10.42.0.0/16" in text
    assert "args.egress: 'cloud-nat' leaves the nodes without a public address" in text
    with pytest.raises(NetworkArgsError, match="GcpNetwork 'net'"):
        GcpNetwork("net", GcpNetworkArgs(api_allowed_cidrs=["0.0.0.0/0"]))


def test_the_api_ranges_are_judged_by_address_arithmetic() -> None:
    # Two halves are the whole internet too; the shared guard (components/netguard.py) sums them.
    halves = validate_network_args(GcpNetworkArgs(api_allowed_cidrs=["0.0.0.0/1", "128.0.0.0/1"]))
    assert len(halves) == 1 and "together open the Kubernetes API to the whole public IPv4" in halves[0]
    # Opened on purpose, as the stack's allowPublicApi says.
    assert validate_network_args(GcpNetworkArgs(api_allowed_cidrs=["0.0.0.0/0"], allow_public_api=True)) == []


def test_server_addresses_skip_reserved_ones() -> None:
    assert server_address("10.30.0.0/20", 0) == "10.30.0.10"
    with pytest.raises(ValueError, match="no host number"):
        server_address("10.30.0.0/29", 0)


@settings(max_examples=60, deadline=None)
@given(
    second_octet=st.integers(0, 255),
    prefix=st.integers(8, 24),
    subnet_prefix=st.integers(16, 29),
    regions=st.integers(1, 6),
)
def test_accepted_ranges_split_into_disjoint_subnetworks_clear_of_k3s(
    second_octet: int, prefix: int, subnet_prefix: int, regions: int
) -> None:
    cidr = str(ipaddress.ip_network(f"10.{second_octet}.0.0/{prefix}", strict=False))
    names = [f"region-{i}" for i in range(regions)]
    args = GcpNetworkArgs(
        api_allowed_cidrs=[ALLOWED], regions=names, network_cidr=cidr, subnet_prefix=subnet_prefix
    )
    if validate_network_args(args):
        return
    blocks = [ipaddress.ip_network(c) for c in subnet_cidrs(cidr, regions, subnet_prefix)]
    network = ipaddress.ip_network(cidr)
    k3s = [ipaddress.ip_network("10.42.0.0/16"), ipaddress.ip_network("10.43.0.0/16")]
    for i, block in enumerate(blocks):
        assert block.subnet_of(network)  # pyright: ignore[reportArgumentType]
        assert not any(block.overlaps(r) for r in k3s)
        assert not any(block.overlaps(other) for other in blocks[i + 1 :])
