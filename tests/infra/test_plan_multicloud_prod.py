"""The `multicloud-prod` stack under the plan's mocks: one K3s cluster whose pools span AWS, GCP
and Azure. Every cloud's firewall admits the cluster's node addresses on exactly the ports the
cluster needs and nothing else from outside; every node's bootstrap sets WireGuard and its
static external address; the models' affinity lists their pools in order; no secret in clear."""

from __future__ import annotations

import base64
import ipaddress
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from llmops.components.capacity import stack_cost
from llmops.components.k3s.overlay import CLUSTER_CIDR, FLANNEL_CONF_PATH, SERVICE_CIDR, WIREGUARD_OVERHEAD
from llmops.components.k3s.render import K3S_CONFIG_PATH, NODE_ETC_DIR
from llmops.components.plan_addresses import plan_node_address
from llmops.infra import artifacts, costing
from llmops.infra.config import read_stack_file
from llmops.infra.plan import MOCK_SECRET_MARKER, Plan, PlannedResource, run_plan

from tests.components.k3s.cloud_init_schema import cloud_config_schema

STACK = "multicloud-prod"
ALLOWED = "203.0.113.0/24"
GCP_PATH_MTU = 1460
API, WIREGUARD, KUBELET = ("tcp", 6443), ("udp", 51820), ("tcp", 10250)


@pytest.fixture(scope="module")
def plan(repo_root: Path) -> Plan:
    return run_plan(read_stack_file(repo_root / "stacks", STACK), STACK)


def named(plan: Plan, name: str) -> PlannedResource:
    (found,) = [r for r in plan.resources if r.name == name]
    return found


@pytest.fixture(scope="module")
def cidrs(plan: Plan) -> dict[str, set[str]]:
    """Each group's static addresses, as the stack output reports them."""
    groups = plan.outputs["nodeAddresses"]["cidrs"]
    return {group: set(values) for group, values in groups.items()}


@pytest.fixture(scope="module")
def servers(cidrs: dict[str, set[str]]) -> set[str]:
    return cidrs["servers"]


@pytest.fixture(scope="module")
def agents(cidrs: dict[str, set[str]]) -> set[str]:
    return set().union(*(values for group, values in cidrs.items() if group != "servers"))


def test_one_network_per_cloud_and_addresses_for_every_node_a_pool_can_have(plan: Plan) -> None:
    counts = plan.by_type()
    assert counts["llmops:aws:AwsNetwork"] == 1
    assert counts["llmops:gcp:GcpNetwork"] == 1
    assert counts["llmops:azure:AzureNetwork"] == 1
    assert counts["aws:ec2/instance:Instance"] == 3  # HA servers on embedded etcd
    # One Elastic IP per server and per node of the AWS pool at its max (4).
    eips = {r.name for r in plan.of_type("aws:ec2/eip:Eip")}
    assert eips == {f"{STACK}-server-{i}-ip" for i in range(3)} | {
        f"aws-l4-spot-node-ip-{i}" for i in range(4)
    }
    addresses = {r.name: r.inputs for r in plan.of_type("gcp:compute/address:Address")}
    assert set(addresses) == {f"gcp-l4-spot-node-ip-{i}" for i in range(4)} | {"gcp-a100-spot-node-ip-0"}
    assert all(
        a["addressType"] == "EXTERNAL" and a["labels"]["llmops-address-set"] for a in addresses.values()
    )
    (prefix,) = plan.of_type("azure-native:network:PublicIPPrefix")
    assert prefix.inputs["prefixLength"] == 31  # max 1 node: the smallest prefix Azure has


def test_the_reported_addresses_are_the_reservations(plan: Plan, cidrs: dict[str, set[str]]) -> None:
    """The output lists what the clouds answer for each reservation (the mocks', one of their own each)."""
    assert cidrs["aws-l4-spot"] == {f"{plan_node_address(f'aws-l4-spot-node-ip-{i}')}/32" for i in range(4)}
    assert cidrs["gcp-l4-spot"] == {f"{plan_node_address(f'gcp-l4-spot-node-ip-{i}')}/32" for i in range(4)}
    assert cidrs["azure-a100-on-demand"] == {f"{plan_node_address('azure-a100-on-demand-node-ips', 16)}/28"}
    assert len(cidrs["servers"]) == 3
    every = [c for group in cidrs.values() for c in group]
    assert len(every) == len(set(every)) == 3 + 4 + 4 + 1 + 1


# --- firewalls: (protocol, port) -> sources, per target, from each cloud's own objects ---------------


def _aws_openings(plan: Plan) -> dict[str, dict[tuple[str, int], set[str]]]:
    """Security group name -> (protocol, port) -> CIDR sources, inline and standalone rules together."""
    groups = {f"{r.name}-id": r.name for r in plan.of_type("aws:ec2/securityGroup:SecurityGroup")}
    found: dict[str, dict[tuple[str, int], set[str]]] = defaultdict(lambda: defaultdict(set))
    for group in plan.of_type("aws:ec2/securityGroup:SecurityGroup"):
        for rule in group.inputs.get("ingresses", []):
            for port in range(rule["fromPort"], rule["toPort"] + 1):
                found[group.name][(rule["protocol"], port)].update(rule.get("cidrBlocks") or [])
    for rule in plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        group = groups[rule.inputs["securityGroupId"]]
        for port in range(rule.inputs["fromPort"], rule.inputs["toPort"] + 1):
            found[group][(rule.inputs["ipProtocol"], port)].add(rule.inputs["cidrIpv4"])
    return found


def test_aws_admits_the_cluster_nodes_on_exactly_the_needed_ports(
    plan: Plan, servers: set[str], agents: set[str]
) -> None:
    openings = _aws_openings(plan)
    peers_servers = openings[f"{STACK}-peers-servers"]
    peers_agents = openings[f"{STACK}-peers-agents"]
    assert dict(peers_servers) == {API: agents, WIREGUARD: servers | agents}
    assert dict(peers_agents) == {WIREGUARD: servers | agents, KUBELET: servers}
    # The servers carry their peer group, the pool's launch template the agents'.
    for instance in plan.of_type("aws:ec2/instance:Instance"):
        assert f"{STACK}-peers-servers-id" in instance.inputs["vpcSecurityGroupIds"]
    template = named(plan, "aws-l4-spot-template").inputs
    assert f"{STACK}-peers-agents-id" in template["vpcSecurityGroupIds"]
    assert f"{STACK}-peers-servers-id" not in template["vpcSecurityGroupIds"]


def test_aws_admits_nothing_else_from_outside_the_vpc(
    plan: Plan, servers: set[str], agents: set[str]
) -> None:
    vpc = ipaddress.ip_network("10.20.0.0/16")
    for group, ports in _aws_openings(plan).items():
        for (protocol, port), sources in ports.items():
            outside = {s for s in sources if not ipaddress.ip_network(s).subnet_of(vpc)}
            assert port != 22, (group, protocol)
            if (protocol, port) == API and group == f"{STACK}-servers":
                assert outside == {ALLOWED}, group  # the API allow-list the stack already had
            elif (protocol, port) in (API, WIREGUARD, KUBELET):
                assert outside <= servers | agents, (group, protocol, port)
            else:
                assert not outside, (group, protocol, port, outside)


def _gcp_firewalls(plan: Plan) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs for r in plan.of_type("gcp:compute/firewall:Firewall")}


def test_gcp_admits_the_cluster_nodes_on_exactly_the_needed_ports(
    plan: Plan, servers: set[str], agents: set[str]
) -> None:
    rules = {name: rule for name, rule in _gcp_firewalls(plan).items() if rule.get("sourceRanges")}
    network = f"{STACK}-gcp"
    agent_tag = f"{network}-peers-agent"
    assert {
        name: (rule["allows"], set(rule["sourceRanges"]), rule["targetTags"]) for name, rule in rules.items()
    } == {
        f"{network}-api-allowed": (
            [{"protocol": "tcp", "ports": ["6443"]}],
            {ALLOWED},
            [f"{network}-server"],
        ),
        f"{network}-peers-tcp6443": ([{"protocol": "tcp", "ports": ["6443"]}], agents, [f"{network}-server"]),
        f"{network}-peers-udp51820": (
            [{"protocol": "udp", "ports": ["51820"]}],
            servers | agents,
            [f"{network}-node"],
        ),
        f"{network}-peers-tcp10250": ([{"protocol": "tcp", "ports": ["10250"]}], servers, [agent_tag]),
    }
    # Only the agents carry the kubelet rule's tag.
    for pool in ("gcp-l4-spot", "gcp-a100-spot"):
        assert agent_tag in named(plan, f"{pool}-template").inputs["tags"]


def test_gcp_rules_without_ranges_admit_only_the_networks_own_tags(plan: Plan) -> None:
    for name, rule in _gcp_firewalls(plan).items():
        if not rule.get("sourceRanges"):
            assert rule["sourceTags"], name
        assert all(port != "22" for allow in rule["allows"] for port in allow.get("ports", [])), name


def _nsg(plan: Plan, name: str) -> list[dict[str, Any]]:
    return named(plan, name).inputs["securityRules"]


def _azure_allows(rules: list[dict[str, Any]], protocol: str, port: int) -> set[str]:
    """Sources an NSG's allow rules admit to `port` (Azure's default rules admit nothing from outside)."""
    sources: set[str] = set()
    for rule in rules:
        low, _, high = rule["destinationPortRange"].partition("-")
        if rule["access"] != "Allow" or not int(low) <= port <= int(high or low):
            continue
        if rule["protocol"].lower() not in (protocol, "*"):
            continue
        sources.update(rule.get("sourceAddressPrefixes") or [rule["sourceAddressPrefix"]])
    return sources


def test_azure_admits_the_cluster_nodes_on_exactly_the_needed_ports(
    plan: Plan, servers: set[str], agents: set[str]
) -> None:
    """Inbound traffic must pass the subnet's group, then the NIC's: the NIC group decides who."""
    subnet = _nsg(plan, f"{STACK}-azure-nsg")
    nic = _nsg(plan, f"{STACK}-azure-peers")
    assert "Internet" in _azure_allows(subnet, *WIREGUARD)
    assert "Internet" in _azure_allows(subnet, *KUBELET)
    assert _azure_allows(nic, *WIREGUARD) == servers | agents
    assert _azure_allows(nic, *KUBELET) == servers
    for protocol, port in (API, ("tcp", 22), ("tcp", 2379), ("udp", 8472)):
        assert _azure_allows(nic, protocol, port) == set(), port
        assert "Internet" not in _azure_allows(subnet, protocol, port), port
    # Each node's NIC carries the peers' group, and its address comes from the pool's prefix.
    (vmss,) = plan.of_type("azure-native:compute:VirtualMachineScaleSet")
    (config,) = vmss.inputs["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"]
    assert config["networkSecurityGroup"]["id"] == f"{STACK}-azure-peers-id"
    public = config["ipConfigurations"][0]["publicIPAddressConfiguration"]
    assert public["publicIPPrefix"]["id"] == "azure-a100-on-demand-node-ips-id"


# --- bootstraps ------------------------------------------------------------------------------------


def _cloud_config(text: str) -> tuple[dict[str, str], dict[str, Any]]:
    assert text.startswith("#cloud-config\n")
    document = yaml.safe_load(text)
    assert list(jsonschema.Draft4Validator(cloud_config_schema()).iter_errors(document)) == []
    files = {entry["path"]: entry["content"] for entry in document["write_files"]}
    return files, yaml.safe_load(files[K3S_CONFIG_PATH])


def _bootstraps(plan: Plan) -> dict[str, str]:
    """Node group -> its cloud-init document, as each cloud takes it."""
    documents = {
        instance.name: base64.b64decode(instance.inputs["userDataBase64"]).decode()
        if "userDataBase64" in instance.inputs
        else instance.inputs["userData"]
        for instance in plan.of_type("aws:ec2/instance:Instance")
    }
    documents["aws-l4-spot"] = base64.b64decode(
        named(plan, "aws-l4-spot-template").inputs["userData"]
    ).decode()
    for pool in ("gcp-l4-spot", "gcp-a100-spot"):
        documents[pool] = named(plan, f"{pool}-template").inputs["metadata"]["user-data"]
    (vmss,) = plan.of_type("azure-native:compute:VirtualMachineScaleSet")
    documents["azure-a100-on-demand"] = base64.b64decode(
        vmss.inputs["virtualMachineProfile"]["osProfile"]["customData"]
    ).decode()
    return documents


def _env(files: dict[str, str]) -> dict[str, str]:
    lines = files[f"{NODE_ETC_DIR}/bootstrap.env"].splitlines()
    return dict(line.split("=", 1) for line in lines if line)


def test_every_node_runs_wireguard_with_the_mtu_for_its_overhead(plan: Plan) -> None:
    documents = _bootstraps(plan)
    assert len(documents) == 3 + 4
    for name, text in documents.items():
        files, _ = _cloud_config(text)
        conf = json.loads(files[FLANNEL_CONF_PATH])
        assert conf["Network"] == CLUSTER_CIDR, name
        assert conf["Backend"]["Type"] == "wireguard", name
        # GCP's 1460 is the smallest path MTU of the three clouds; flannel takes 80 off for WireGuard.
        assert conf["Backend"]["MTU"] == GCP_PATH_MTU, name
        assert GCP_PATH_MTU - WIREGUARD_OVERHEAD == 1380


def test_every_server_sets_wireguard_native_and_its_static_external_address(
    plan: Plan, servers: set[str]
) -> None:
    seen = set()
    for name, text in _bootstraps(plan).items():
        if not name.startswith(f"{STACK}-server-"):
            continue
        _, config = _cloud_config(text)
        assert config["flannel-backend"] == "wireguard-native"
        assert config["flannel-external-ip"] is True
        assert config["flannel-conf"] == FLANNEL_CONF_PATH
        assert (config["cluster-cidr"], config["service-cidr"]) == (CLUSTER_CIDR, SERVICE_CIDR)
        seen.add(f"{config['node-external-ip']}/32")
    assert seen == servers


def test_every_agent_claims_an_address_of_its_pool_and_sets_it_as_external_ip(plan: Plan) -> None:
    first_server_public = sorted(plan.outputs["nodeAddresses"]["cidrs"]["servers"])
    for pool in ("aws-l4-spot", "gcp-l4-spot", "gcp-a100-spot", "azure-a100-on-demand"):
        files, config = _cloud_config(_bootstraps(plan)[pool])
        env = _env(files)
        # The address is read on the machine after the claim: the node's metadata service answers it.
        assert env["LLMOPS_NODE_EXTERNAL_IP"] == "cloud", pool
        assert config["flannel-conf"] == FLANNEL_CONF_PATH, pool
        cloud_fragment = files["/usr/local/lib/llmops/cloud.sh"]
        if pool.startswith("azure"):
            # The scale set assigns an address of the pool's prefix natively: nothing to claim.
            assert "LLMOPS_ADDRESS_SET" not in env
        else:
            assert env["LLMOPS_ADDRESS_SET"], pool
            assert "cloud_claim_address()" in cloud_fragment, pool
        # Agents in the servers' cloud register through the first server's private address,
        # the others through its static public one.
        server = config["server"].removeprefix("https://").removesuffix(":6443")
        if pool.startswith("aws"):
            assert ipaddress.ip_address(server).is_private, pool
        else:
            assert f"{server}/32" in first_server_public, pool


def test_agent_scripts_claim_before_writing_the_external_address() -> None:
    from llmops.components.k3s.render import script_text

    for role in ("agent.sh", "server.sh"):
        lines = [line.strip() for line in script_text(role).splitlines()]
        assert (
            lines.index("claim_external_address")
            < lines.index("write_external_ip")
            < lines.index(f"install_k3s {role.removesuffix('.sh')}")
        )


def test_claim_grants_name_exactly_the_pools_addresses(plan: Plan) -> None:
    (policy,) = [
        r for r in plan.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == "aws-l4-spot-claim-address"
    ]
    document = json.loads(policy.inputs["policy"])
    statements = {s["Sid"]: s for s in document["Statement"]}
    assert sorted(statements["AssociateTheSetsAddresses"]["Resource"]) == sorted(
        f"arn:aws:ec2:us-east-1:000000000000:elastic-ip/eipalloc-aws-l4-spot-node-ip-{i}" for i in range(4)
    )
    assert statements["OnlyWithThePoolsInstances"]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/llmops.io/pool": "aws-l4-spot"}
    }
    assert statements["FindTheSet"]["Action"] == "ec2:DescribeAddresses"
    members = {r.name: r.inputs for r in plan.of_type("gcp:projects/iAMMember:IAMMember")}
    claim = members["gcp-l4-spot-claim"]
    assert 'startsWith("gcp-l4-spot-")' in claim["condition"]["expression"]
    assert "condition" not in members["gcp-l4-spot-list"] or not members["gcp-l4-spot-list"]["condition"]
    roles = {r.name: r.inputs for r in plan.of_type("gcp:projects/iAMCustomRole:IAMCustomRole")}
    assert roles["gcp-l4-spot-list-role"]["permissions"] == ["compute.addresses.list"]
    assert "compute.instances.setMetadata" not in roles["gcp-l4-spot-claim-role"]["permissions"]


# --- models, autoscaling, cost, secrets -------------------------------------------------------------


def _deployment(plan: Plan, model: str) -> dict[str, Any]:
    (found,) = [
        r.inputs
        for r in plan.of_type("kubernetes:apps/v1:Deployment")
        if r.inputs["metadata"]["name"] == model
    ]
    return found


@pytest.mark.parametrize(
    ("model", "pools"),
    [
        ("qwen2-5-7b", ["aws-l4-spot", "gcp-l4-spot"]),
        ("qwen2-5-72b", ["gcp-a100-spot", "azure-a100-on-demand"]),
    ],
)
def test_model_affinity_lists_its_pools_in_order(plan: Plan, model: str, pools: list[str]) -> None:
    affinity = _deployment(plan, model)["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
    (term,) = affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert term["matchExpressions"] == [{"key": "llmops.io/pool", "operator": "In", "values": pools}]
    preferred = sorted(
        affinity["preferredDuringSchedulingIgnoredDuringExecution"], key=lambda t: -t["weight"]
    )
    assert [t["preference"]["matchExpressions"][0]["values"] for t in preferred] == [[p] for p in pools]


def test_the_7b_spreads_evenly_over_both_spot_clouds_in_a_valid_deployment(plan: Plan) -> None:
    import kubernetes_validate

    deployment = _deployment(plan, "qwen2-5-7b")
    kubernetes_validate.validate(
        {"apiVersion": "apps/v1", "kind": "Deployment", **deployment}, "1.33.0", strict=True
    )
    pod = deployment["spec"]["template"]["spec"]
    preferred = pod["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert [t["weight"] for t in preferred] == [100, 100]  # placement: spread
    spread = [
        (c["topologyKey"], c["maxSkew"], c["whenUnsatisfiable"]) for c in pod["topologySpreadConstraints"]
    ]
    assert spread == [
        ("kubernetes.io/hostname", 1, "ScheduleAnyway"),
        ("llmops.io/cloud", 1, "ScheduleAnyway"),
    ]


def test_only_the_servers_cloud_pools_autoscale(plan: Plan) -> None:
    assert plan.outputs["nodeAutoscaling"]["autoscaled"] == ["aws-l4-spot"]
    assert set(plan.outputs["nodeAutoscaling"]["fixed"]) == {
        "gcp-l4-spot",
        "gcp-a100-spot",
        "azure-a100-on-demand",
    }


def test_the_addresses_cost_is_in_the_plan_and_its_totals(plan: Plan) -> None:
    summary = plan.outputs["nodeAddresses"]
    by_group = {row["group"]: row for row in summary["rows"]}
    assert {g: r["addresses"] for g, r in by_group.items()} == {
        "servers": 3,
        "aws-l4-spot": 4,
        "gcp-l4-spot": 4,
        "gcp-a100-spot": 1,
        "azure-a100-on-demand": 2,  # a /31 prefix, paid whole
    }
    hourly = sum(r["addresses"] * r["usdPerAddressHour"] for r in by_group.values())
    assert summary["usdPerHour"] == pytest.approx(hourly)
    assert all(r["source"] for r in by_group.values())
    estimate = costing.estimate(plan.config, None)
    assert estimate.cost["node_addresses"]["usdPerMonth"] == pytest.approx(hourly * 720, abs=0.01)
    machines = stack_cost(costing.pool_costs(plan.config, None)).monthly_usd
    assert "model_store_usd" not in estimate.cost  # modelStore: none
    assert estimate.cost["monthly_usd"] == pytest.approx(machines + hourly * 720, abs=0.05)
    ceiling = stack_cost(costing.ceiling_costs(plan.config, None)).monthly_usd
    assert estimate.cost["ceiling_monthly_usd"] == pytest.approx(ceiling + hourly * 720, abs=0.05)


def test_plan_json_and_bootstraps_hold_no_secret_plaintext(plan: Plan, tmp_path: Path) -> None:
    text = (artifacts.write(plan, tmp_path) / "plan.json").read_text()
    assert "BEGIN CERTIFICATE" in text  # public material is shown, so the check can fail
    assert MOCK_SECRET_MARKER not in text
    assert "PRIVATE KEY" not in text
    for name, document in _bootstraps(plan).items():
        assert MOCK_SECRET_MARKER not in document, name
        assert "PRIVATE KEY" not in document, name
    for manifest in (tmp_path / STACK / "manifests").iterdir():
        assert MOCK_SECRET_MARKER not in manifest.read_text()


def test_each_pool_is_priced_in_its_clouds_region(repo_root: Path, plan: Plan) -> None:
    raw = read_stack_file(repo_root / "stacks", STACK)
    regions = costing.cloud_regions(plan.config, raw.other)
    assert regions == {"aws": "us-east-1", "gcp": "us-central1", "azure": "eastus"}
    assert costing.stack_region(plan.config, raw.other) is None  # no one region for the stack
    priced = {cost.name: cost.region for cost in costing.pool_costs(plan.config, None, None, regions)}
    assert priced == {
        "aws-l4-spot": "us-east-1",
        "gcp-l4-spot": "us-central1",
        "gcp-a100-spot": "us-central1",
        "azure-a100-on-demand": "eastus",
    }


def test_preview_with_unknown_addresses_builds_the_same_resources(repo_root: Path, plan: Plan) -> None:
    """In preview the clouds' addresses are unknown: the same reservations and rules, none dropped."""
    preview = run_plan(read_stack_file(repo_root / "stacks", STACK), STACK, preview=True)
    assert preview.by_type() == plan.by_type()
