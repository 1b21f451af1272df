"""The GCP model store: Filestore on the cluster's VPC, NFS only from the nodes, a csi-driver-nfs
claim, and its price in the plan (the real program under the plan's mocks)."""

from __future__ import annotations

import copy
import ipaddress
import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from llmops.components.cloud import Cloud, kit
from llmops.components.errors import InputError
from llmops.components.gcp.model_store import (
    MIN_CAPACITY_GIB,
    NFS_PORTS,
    RESERVED_IP_RANGE,
    FilestoreTier,
    GcpModelStore,
    GcpModelStoreArgs,
    capacity_gib,
    monthly_cost,
    store_problems,
)
from llmops.components.gcp.network import K3S_CLUSTER_CIDR, K3S_SERVICE_CIDR, GcpNetworkArgs
from llmops.infra.cli import app
from llmops.infra.config import split_namespace
from llmops.infra.plan import Plan, PlannedResource, run_plan
from typer.testing import CliRunner


@pytest.fixture(scope="module")
def gcp_dev(repo_root: Path) -> dict[str, Any]:
    return yaml.safe_load((repo_root / "stacks" / "Pulumi.gcp-dev.yaml").read_text())["config"]


def _with_store(config: dict[str, Any], store: dict[str, Any] | None = None) -> dict[str, Any]:
    out = copy.deepcopy(config)
    if store is None:
        out.pop("llmops:modelStore", None)  # the cloud's own store, the default
    else:
        out["llmops:modelStore"] = store
    return out


@pytest.fixture(scope="module")
def plan(gcp_dev: dict[str, Any]) -> Plan:
    return run_plan(split_namespace("test", _with_store(gcp_dev)), "gcp-dev")


def named(plan: Plan, name: str) -> PlannedResource:
    (found,) = [r for r in plan.resources if r.name == name]
    return found


def test_filestore_is_the_default_store_of_a_gcp_cluster() -> None:
    assert kit(Cloud.GCP).model_store_kind == "filestore"


def test_the_instance_peers_into_the_cluster_vpc_and_exports_to_its_subnetworks_only(plan: Plan) -> None:
    (instance,) = plan.of_type("gcp:filestore/instance:Instance")
    assert instance.inputs["tier"] == "BASIC_HDD"
    (share,) = [instance.inputs["fileShares"]]
    # sizeGi defaults to 500; a Basic HDD share is never smaller than 1 TiB.
    assert share["capacityGb"] == 1024
    (network,) = instance.inputs["networks"]
    # The VPC's name (the mocks name an unnamed resource after itself).
    assert named(plan, "gcp-dev-vpc").type == "gcp:compute/network:Network"
    assert network["network"] == "gcp-dev-vpc"
    assert network["connectMode"] == "DIRECT_PEERING"
    assert network["reservedIpRange"] == RESERVED_IP_RANGE
    subnets = [r.inputs["ipCidrRange"] for r in plan.of_type("gcp:compute/subnetwork:Subnetwork")]
    (export,) = share["nfsExportOptions"]
    assert export["ipRanges"] == sorted(subnets)
    assert export["accessMode"] == "READ_WRITE"
    # A zone the GPU pools run in (Basic tiers are zonal).
    zones = {
        z
        for g in plan.of_type("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")
        for z in g.inputs["distributionPolicyZones"]
    }
    assert instance.inputs["location"] in zones


def test_only_the_nodes_reach_the_store_on_the_nfs_ports(plan: Plan) -> None:
    allow = named(plan, "model-store-nfs-from-nodes").inputs
    deny = named(plan, "model-store-nfs-deny-others").inputs
    node_tag = "gcp-dev-node"
    assert allow["direction"] == deny["direction"] == "EGRESS"
    assert allow["network"] == deny["network"] == "gcp-dev-vpc-id"
    assert allow["targetTags"] == [node_tag]
    assert allow["destinationRanges"] == deny["destinationRanges"] == [RESERVED_IP_RANGE]
    assert sorted(a["protocol"] for a in allow["allows"]) == ["tcp", "udp"]
    assert all(a["ports"] == list(NFS_PORTS) for a in allow["allows"])
    # Every other VM of the network is denied, and the allow rule is evaluated first.
    assert "targetTags" not in deny and "sourceTags" not in deny
    assert deny["denies"] == [{"protocol": "all"}]
    assert allow["priority"] < deny["priority"]


def test_the_claim_mounts_the_instance_address_over_nfsv3(plan: Plan) -> None:
    (volume,) = plan.of_type("kubernetes:core/v1:PersistentVolume")
    (claim,) = plan.of_type("kubernetes:core/v1:PersistentVolumeClaim")
    for resource, kind in ((volume, "PersistentVolume"), (claim, "PersistentVolumeClaim")):
        kubernetes_validate.validate(
            {"apiVersion": "v1", "kind": kind, **resource.inputs}, "1.33.0", strict=True
        )
    # The address the instance reports (the plan mocks give the reserved range's first usable one).
    address = str(ipaddress.ip_network(RESERVED_IP_RANGE)[2])
    csi = volume.inputs["spec"]["csi"]
    assert csi["driver"] == "nfs.csi.k8s.io"
    assert csi["volumeAttributes"] == {"server": address, "share": "/models", "mountPermissions": "0777"}
    assert csi["volumeHandle"] == f"{address}#/models#"
    assert volume.inputs["spec"]["mountOptions"] == ["nfsvers=3", "hard", "nolock"]
    assert claim.inputs["spec"]["accessModes"] == ["ReadWriteMany"]
    release = named(plan, "model-store-nfs-csi")
    assert (release.inputs["chart"], release.inputs["version"]) == ("csi-driver-nfs", "4.13.4")
    # The download Job and the replica use this claim.
    (job,) = plan.of_type("kubernetes:batch/v1:Job")
    volumes = job.inputs["spec"]["template"]["spec"]["volumes"]
    assert {"claimName": claim.inputs["metadata"]["name"]} in [
        v.get("persistentVolumeClaim") for v in volumes
    ]


def test_the_plan_prices_the_store_in_its_cost_table(
    gcp_dev: dict[str, Any], repo_root: Path, tmp_path: Path
) -> None:
    stack = tmp_path / "stacks"
    stack.mkdir()
    (stack / "Pulumi.gcp-store.yaml").write_text(
        yaml.safe_dump({"config": _with_store(gcp_dev, {"kind": "filestore", "sizeGi": 2048})})
    )
    (tmp_path / "Pulumi.yaml").write_text((repo_root / "Pulumi.yaml").read_text())
    result = CliRunner().invoke(
        app, ["plan", "--stack", "gcp-store", "--out", str(tmp_path / "out"), "--project-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    cost = json.loads((tmp_path / "out" / "gcp-store" / "plan.json").read_text())["cost"]
    # 2048 GiB provisioned at 0.20 $/GiB-month, billed whatever is stored.
    assert cost["model_store_usd"] == 409.6
    assert cost["model_store"]["kind"] == "filestore"
    pools = sum(line["monthly_usd"] for line in cost["per_pool"].values())
    assert cost["monthly_usd"] == pytest.approx(pools + 409.6, abs=0.01)
    (row,) = [line for line in result.output.splitlines() if line.startswith("│ model ")]
    assert "filestore" in row and "409.60" in row


def test_gcp_dev_leaves_the_store_off(repo_root: Path) -> None:
    from llmops.infra.config import read_stack_file

    plan = run_plan(read_stack_file(repo_root / "stacks", "gcp-dev"), "gcp-dev")
    assert not plan.of_type("gcp:filestore/instance:Instance")
    assert not plan.of_type("kubernetes:core/v1:PersistentVolume")
    assert "modelStore" not in plan.outputs


def test_the_store_runs_in_preview_with_unknown_outputs(gcp_dev: dict[str, Any]) -> None:
    preview = run_plan(split_namespace("test", _with_store(gcp_dev)), "gcp-dev", preview=True)
    assert preview.of_type("gcp:filestore/instance:Instance")
    assert preview.of_type("kubernetes:core/v1:PersistentVolume")


def test_efs_settings_are_refused_for_filestore(gcp_dev: dict[str, Any]) -> None:
    from llmops.infra.config import ConfigError, parse

    raw = split_namespace("test", _with_store(gcp_dev, {"kind": "filestore", "throughputMode": "bursting"}))
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    assert "modelStore.throughputMode: 'bursting' applies to kind efs only; this store is 'filestore'" in str(
        caught.value
    )


def test_filestore_on_another_cloud_is_a_key_path_error(repo_root: Path) -> None:
    from llmops.infra.config import ConfigError, parse

    config = yaml.safe_load((repo_root / "stacks" / "Pulumi.aws-dev.yaml").read_text())["config"]
    config["llmops:modelStore"] = {"kind": "filestore"}
    with pytest.raises(ConfigError) as caught:
        parse(split_namespace("test", config))
    assert (
        "modelStore.kind: 'filestore' needs a K3s cluster this stack builds on a cloud whose store is "
        "filestore (cluster.kind k3s). Fix: use kind nfs" in str(caught.value)
    )


def test_monthly_cost_bills_the_provisioned_capacity() -> None:
    assert monthly_cost(FilestoreTier.BASIC_HDD, 10) == {
        "provisioned_gib": 1024.0,
        "storage_usd": 204.8,
        "transfer_usd": 0.0,
        "monthly_usd": 204.8,
    }
    assert monthly_cost(FilestoreTier.BASIC_HDD, 5000)["monthly_usd"] == 1000.0
    assert kit(Cloud.GCP).model_store_cost("elastic", 1.0, 30.0, 1.0, 0.0, size_gib=0)["monthly_usd"] == 204.8


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=70_000))
def test_capacity_is_never_below_the_tier_minimum_nor_the_ask(size: int) -> None:
    provisioned = capacity_gib(FilestoreTier.BASIC_HDD, size)
    assert provisioned >= MIN_CAPACITY_GIB[FilestoreTier.BASIC_HDD] and provisioned >= size


def test_the_reserved_range_overlaps_nothing_the_cluster_routes() -> None:
    reserved = ipaddress.ip_network(RESERVED_IP_RANGE)
    assert reserved.prefixlen == 29  # what a Basic instance takes
    for other in (GcpNetworkArgs(api_allowed_cidrs=[]).network_cidr, K3S_CLUSTER_CIDR, K3S_SERVICE_CIDR):
        assert not reserved.overlaps(ipaddress.ip_network(other)), other


def test_bad_args_are_reported_together() -> None:
    args = GcpModelStoreArgs(
        network_name="vpc",
        network_id="vpc-id",
        node_tag="net-node",
        client_cidrs=[],
        zone="",
        provider=None,  # type: ignore[arg-type]
        namespace="llmops",
        size_gib=0,
    )
    assert [str(p) for p in store_problems(args)] == [
        "args.size_gib: 0 must be >= 1. Fix: give the space the models need",
        "args.client_cidrs: [] is empty; no node could mount the store. Fix: pass the cluster's subnetwork "
        "ranges (GcpNetwork.subnet_cidrs)",
        "args.zone: '' is empty. Fix: name a zone of the cluster's region",
    ]
    with pytest.raises(InputError, match="GcpModelStore 'store'"):
        GcpModelStore("store", args)
