"""`AwsNetwork`: zones, subnets, and security groups that open only what K3s needs."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st
from llmops.components.aws import AwsNetwork, AwsNetworkArgs, NetworkArgsError
from llmops.components.aws.subnets import server_address, subnet_cidrs, vpc_cidr_problems
from llmops.components.k3s import FlannelBackend

from tests.components.aws.stack import ALLOWED_CIDR, build_aws_dev
from tests.components.k3s.mocks import AVAILABILITY_ZONES, Recorded, RecordingMocks, run_program


@pytest.fixture(scope="module")
def dev() -> RecordingMocks:
    return run_program(lambda: build_aws_dev()["outputs"])[0]


def _ingress(mocks: RecordingMocks) -> list[tuple[Recorded, dict]]:
    return [
        (group, rule)
        for group in mocks.of_type("aws:ec2/securityGroup:SecurityGroup")
        for rule in group.inputs.get("ingress", [])
    ]


def _covers(rule: dict, port: int) -> bool:
    return rule["protocol"] == "-1" or rule["fromPort"] <= port <= rule["toPort"]


def test_subnets_in_two_zones(dev: RecordingMocks) -> None:
    subnets = dev.of_type("aws:ec2/subnet:Subnet")
    assert len(subnets) == 2
    assert [s.inputs["availabilityZone"] for s in subnets] == AVAILABILITY_ZONES[:2]
    assert ("aws:index/getAvailabilityZones:getAvailabilityZones", {"state": "available"}) in dev.calls
    cidrs = [ipaddress.IPv4Network(s.inputs["cidrBlock"]) for s in subnets]
    assert not cidrs[0].overlaps(cidrs[1])
    vpc = ipaddress.IPv4Network(dev.named("aws-dev-vpc").inputs["cidrBlock"])
    assert all(c.subnet_of(vpc) for c in cidrs)


def test_no_ssh_and_nothing_open_to_the_internet(dev: RecordingMocks) -> None:
    rules = _ingress(dev)
    assert rules
    for group, rule in rules:
        assert not _covers(rule, 22), f"{group.name} opens port 22: {rule}"
        assert "0.0.0.0/0" not in rule.get("cidrBlocks", []), f"{group.name} is open to the internet: {rule}"
        assert "::/0" not in rule.get("ipv6CidrBlocks", [])


def test_api_open_to_allowed_ranges_and_the_nodes_only(dev: RecordingMocks) -> None:
    servers = dev.named("aws-dev-servers")
    api_rules = [r for r in servers.inputs["ingress"] if _covers(r, 6443)]
    assert {tuple(r.get("cidrBlocks", [])) for r in api_rules if r.get("cidrBlocks")} == {(ALLOWED_CIDR,)}
    assert [r["securityGroups"] for r in api_rules if r.get("securityGroups")] == [["aws-dev-nodes-id"]]
    assert len(api_rules) == 2  # no VPC-wide rule without a load balancer
    etcd = [r for r in servers.inputs["ingress"] if _covers(r, 2379)]
    assert etcd and all(r.get("self") is True and not r.get("cidrBlocks") for r in etcd)


def test_kubelet_and_vxlan_only_between_nodes(dev: RecordingMocks) -> None:
    nodes = dev.named("aws-dev-nodes")
    by_port = {(r["protocol"], r["fromPort"]): r for r in nodes.inputs["ingress"]}
    assert set(by_port) == {("tcp", 10250), ("udp", 8472)}
    assert all(r.get("self") is True and not r.get("cidrBlocks") for r in by_port.values())


def test_wireguard_opens_its_ports_to_named_peers_only() -> None:
    def build() -> dict:
        AwsNetwork(
            "mc",
            AwsNetworkArgs(
                api_allowed_cidrs=[ALLOWED_CIDR],
                flannel_backend=FlannelBackend.WIREGUARD_NATIVE,
                wireguard_peer_cidrs=["35.200.0.0/16"],
            ),
        )
        return {}

    mocks, _ = run_program(build)
    rules = mocks.named("mc-nodes").inputs["ingress"]
    wireguard = [r for r in rules if r["protocol"] == "udp" and r["fromPort"] == 51820]
    assert {(r["toPort"], tuple(r.get("cidrBlocks", [])), bool(r.get("self"))) for r in wireguard} == {
        (51821, (), True),
        (51821, ("35.200.0.0/16",), False),
    }
    assert not [r for r in rules if r["protocol"] == "udp" and r["fromPort"] == 8472]


def test_bad_network_args_are_all_reported_before_any_resource() -> None:
    mocks = RecordingMocks()

    def build() -> dict:
        AwsNetwork(
            "bad",
            AwsNetworkArgs(
                api_allowed_cidrs=["10.0.0.1/8"],
                vpc_cidr="10.42.0.0/16",
                az_count=1,
                wireguard_peer_cidrs=["35.200.0.0/16"],
            ),
        )
        return {}

    with pytest.raises(NetworkArgsError) as raised:
        run_program(build, mocks=mocks)
    message = str(raised.value)
    assert (
        "args.vpc_cidr: '10.42.0.0/16' overlaps K3s's pod range 10.42.0.0/16; pick another range" in message
    )
    assert "args.az_count: 1 is below 2" in message
    assert (
        "args.api_allowed_cidrs[0]: '10.0.0.1/8' has host bits set; the block it names is '10.0.0.0/8'"
        in message
    )
    assert "args.wireguard_peer_cidrs: [\"35.200.0.0/16\"] is set while flannel_backend is 'vxlan'" in message
    assert mocks.resources == []


def test_the_component_refuses_an_api_open_to_the_internet_in_pieces() -> None:
    from llmops.components.aws.network import validate_network_args

    halves = AwsNetworkArgs(api_allowed_cidrs=["0.0.0.0/1", "128.0.0.0/1"])
    (found,) = validate_network_args(halves)
    problem = str(found)
    assert problem.startswith(
        'args.api_allowed_cidrs: ["0.0.0.0/1", "128.0.0.0/1"] together open'
        " the Kubernetes API to the whole "
        "public IPv4 internet"
    )
    assert "set allow_public_api: true" in problem
    opened = AwsNetworkArgs(api_allowed_cidrs=["0.0.0.0/0"], allow_public_api=True)
    assert validate_network_args(opened) == []
    peers = AwsNetworkArgs(
        api_allowed_cidrs=["203.0.113.0/24"],
        flannel_backend=FlannelBackend.WIREGUARD_NATIVE,
        wireguard_peer_cidrs=["0.0.0.0/2", "64.0.0.0/2"],
    )
    (found,) = validate_network_args(peers)
    problem = str(found)
    assert "open the WireGuard overlay to" in problem and "allow_public_api" not in problem


@given(prefix=st.integers(16, 24), extra=st.integers(0, 4), count=st.integers(1, 6))
def test_subnet_split_is_disjoint_and_inside_the_vpc(prefix: int, extra: int, count: int) -> None:
    vpc = f"10.20.0.0/{prefix}"
    subnet_prefix = min(prefix + extra, 28)
    if vpc_cidr_problems(vpc, count, subnet_prefix):
        assert 2 ** (subnet_prefix - prefix) < count or prefix > 24
        return
    blocks = [ipaddress.IPv4Network(c) for c in subnet_cidrs(vpc, count, subnet_prefix)]
    assert len(blocks) == count
    for i, block in enumerate(blocks):
        assert block.subnet_of(ipaddress.IPv4Network(vpc)) and block.prefixlen == subnet_prefix
        assert all(not block.overlaps(other) for other in blocks[i + 1 :])


@given(index=st.integers(0, 50))
def test_server_addresses_avoid_aws_reserved_hosts(index: int) -> None:
    address = ipaddress.ip_address(server_address("10.20.16.0/20", index))
    assert address in ipaddress.ip_network("10.20.16.0/20")
    assert int(address) - int(ipaddress.ip_address("10.20.16.0")) >= 4
