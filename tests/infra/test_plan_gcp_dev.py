"""The `gcp-dev` stack under the plan's mocks: network, K3s on Compute Engine, MIG pools, cost, no secret in the clear."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from llmops.components.gcp.gpu_pool import DLVM_IMAGE
from llmops.components.gcp.offerings import zones_offering
from llmops.infra import artifacts
from llmops.infra.cli import app
from llmops.infra.config import ConfigError, parse, read_stack_file, split_namespace
from llmops.infra.plan import MOCK_SECRET_MARKER, Plan, PlannedResource, run_plan
from typer.testing import CliRunner

PROJECT = "my-llmops-project"


@pytest.fixture(scope="module")
def plan(repo_root: Path) -> Plan:
    return run_plan(read_stack_file(repo_root / "stacks", "gcp-dev"), "gcp-dev")


def named(plan: Plan, name: str) -> PlannedResource:
    (found,) = [r for r in plan.resources if r.name == name]
    return found


def test_network_server_pools_and_model(plan: Plan) -> None:
    counts = plan.by_type()
    assert counts["llmops:gcp:GcpNetwork"] == 1
    assert counts["llmops:k3s:K3sCluster"] == 1
    assert counts["llmops:gcp:GcpGpuNodePool"] == 2
    assert counts["llmops:serving:VllmModel"] == 1
    assert counts["gcp:compute/instance:Instance"] == 1
    assert counts["gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"] == 2
    assert not [t for t in counts if t.startswith("aws:")]


def _ports(rule: dict[str, Any]) -> set[int]:
    ports: set[int] = set()
    for allow in rule["allows"]:
        for text in allow.get("ports") or ["0-65535"]:
            low, _, high = text.partition("-")
            ports.update(range(int(low), int(high or low) + 1))
    return ports


def test_no_ssh_and_no_api_from_the_internet(plan: Plan) -> None:
    rules = plan.of_type("gcp:compute/firewall:Firewall")
    assert rules
    for rule in rules:
        ranges = [ipaddress.ip_network(r) for r in rule.inputs.get("sourceRanges") or []]
        assert 22 not in _ports(rule.inputs), rule.name
        # No rule (6443 included) takes sources from the whole internet.
        assert all(r.prefixlen > 0 for r in ranges), rule.name
        assert ranges or rule.inputs.get("sourceTags"), rule.name
    api = [r for r in rules if 6443 in _ports(r.inputs)]
    assert {r.name for r in api} == {"gcp-dev-api-nodes", "gcp-dev-api-allowed"}
    allowed = named(plan, "gcp-dev-api-allowed").inputs
    assert allowed["sourceRanges"] == ["203.0.113.0/24"] and allowed["targetTags"] == ["gcp-dev-server"]


def test_instance_templates(plan: Plan) -> None:
    spot = named(plan, "l4-spot-template").inputs
    assert spot["machineType"] == "g2-standard-8"
    assert spot["scheduling"]["provisioningModel"] == "SPOT"
    assert spot["scheduling"]["instanceTerminationAction"] == "DELETE"
    assert spot["scheduling"]["onHostMaintenance"] == "TERMINATE"
    assert spot["disks"][0]["sourceImage"] == DLVM_IMAGE
    on_demand = named(plan, "l4-on-demand-template").inputs
    assert on_demand["scheduling"]["provisioningModel"] == "STANDARD"
    assert on_demand["scheduling"]["onHostMaintenance"] == "TERMINATE"
    for template in (spot, on_demand):
        document = yaml.safe_load(template["metadata"]["user-data"])
        assert any(f["path"] == "/etc/llmops/secrets.list" for f in document["write_files"])
        assert template["serviceAccount"]["email"].endswith(f"@{PROJECT}.iam.gserviceaccount.com")


def test_groups_zones_sizes_and_schedules(plan: Plan) -> None:
    zones = list(zones_offering("g2-standard-8", "us-central1"))
    spot = named(plan, "l4-spot-group").inputs
    on_demand = named(plan, "l4-on-demand-group").inputs
    assert spot["distributionPolicyZones"] == on_demand["distributionPolicyZones"] == zones
    assert "targetSize" not in spot and on_demand["targetSize"] == 0
    policy = named(plan, "l4-spot-autoscaler").inputs["autoscalingPolicy"]
    assert (policy["minReplicas"], policy["maxReplicas"]) == (0, 4)
    (workday,) = policy["scalingSchedules"]
    assert workday["schedule"] == "0 8 * * MON,TUE,WED,THU,FRI"
    assert workday["durationSec"] == 12 * 3600 and workday["minRequiredReplicas"] == 2
    assert workday["timeZone"] == "Europe/Berlin"


def test_each_secret_has_its_own_reader_binding(plan: Plan) -> None:
    secrets = plan.of_type("gcp:secretmanager/secret:Secret")
    readers = {r.name: r.inputs for r in plan.of_type("gcp:secretmanager/secretIamMember:SecretIamMember")}
    assert len(readers) == len(secrets) >= 9
    for secret in secrets:
        reader = readers[f"{secret.name}-reader"]
        assert reader["secretId"] == secret.inputs["secretId"]
        assert reader["role"] == "roles/secretmanager.secretAccessor"
        assert reader["member"].startswith("serviceAccount:k3s-")
    for version in plan.of_type("gcp:secretmanager/secretVersion:SecretVersion"):
        assert version.inputs["secretData"] == "[secret]", version.name


def test_plan_json_and_metadata_hold_no_secret_plaintext(plan: Plan, tmp_path: Path) -> None:
    text = (artifacts.write(plan, tmp_path) / "plan.json").read_text()
    assert "BEGIN CERTIFICATE" in text  # public material is shown, so the checks below can fail
    assert MOCK_SECRET_MARKER not in text and "PRIVATE KEY" not in text
    for resource in plan.of_type("gcp:compute/instance:Instance") + plan.of_type(
        "gcp:compute/instanceTemplate:InstanceTemplate"
    ):
        metadata = json.dumps(resource.inputs["metadata"])
        assert MOCK_SECRET_MARKER not in metadata and "PRIVATE KEY" not in metadata


def test_preview_runs_with_unknowns(repo_root: Path) -> None:
    preview = run_plan(read_stack_file(repo_root / "stacks", "gcp-dev"), "gcp-dev", preview=True)
    assert preview.outputs["kubeconfig"] in ("[unknown]", "[secret]")
    assert len(preview.resources) > 50


def test_cost_prices_every_pool(repo_root: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["plan", "--stack", "gcp-dev", "--out", str(tmp_path), "--project-dir", str(repo_root)]
    )
    assert result.exit_code == 0, result.output
    cost = json.loads((tmp_path / "gcp-dev" / "plan.json").read_text())["cost"]
    assert set(cost["per_pool"]) == {"l4-spot", "l4-on-demand"}
    for pool in cost["per_pool"].values():
        assert pool["region"] == "us-central1"
        assert pool["on_demand_usd_per_h"] and pool["spot_usd_per_h"]
    assert cost["monthly_usd"] > 0
    assert not [w for w in cost["warnings"] if "not priced" in w and "pool" in w]


def test_three_servers_are_a_key_path_error() -> None:
    raw = split_namespace(
        "test",
        {
            "gcp:project": "p",
            "gcp:region": "us-central1",
            "llmops:cluster": {
                "kind": "k3s",
                "cloud": "gcp",
                "servers": 3,
                "allowedCidrs": ["203.0.113.0/24"],
            },
        },
    )
    with pytest.raises(
        ConfigError, match=r"cluster.servers: 3 needs an API load balancer, which is not built on GCP"
    ):
        parse(raw)


def _raw(overrides: dict[str, Any], provider: dict[str, Any] | None = None) -> Any:
    pool = {
        "name": "p",
        "cloud": "gcp",
        "gpuType": "L4",
        "instanceTypes": ["g2-standard-8"],
        "capacity": "spot",
        "max": 1,
    }
    pool.update(overrides)
    config = {
        "gcp:project": "p",
        "gcp:region": "us-central1",
        **(provider or {}),
        "llmops:cluster": {"kind": "k3s", "cloud": "gcp", "allowedCidrs": ["203.0.113.0/24"]},
        "llmops:pools": [pool],
    }
    return split_namespace("test", {k: v for k, v in config.items() if v is not None})


@pytest.mark.parametrize(
    ("overrides", "provider", "expected"),
    [
        (
            {"instanceTypes": ["n2-standard-8"]},
            None,
            "pools[0].instanceTypes[0]: 'n2-standard-8' is not a GPU machine type",
        ),
        ({"instanceTypes": ["n1-standard-8+L4x1"]}, None, "which the N1 family does not carry"),
        (
            {"gpuType": "T4"},
            None,
            "pools[0].instanceTypes[0]: 'g2-standard-8' carries L4 GPUs, not the pool's gpuType 'T4'",
        ),
        (
            {},
            {"gcp:region": "southamerica-east1"},
            "is not sold in any zone of gcp:region 'southamerica-east1'",
        ),
        ({"max": 0}, None, "pools[0].max: 0 makes a spot pool that can never hold a machine"),
        ({"capacity": "mixed", "onDemandBase": 1}, None, "pools[0].capacity: 'mixed' has no GCP form"),
        ({}, {"gcp:project": None}, "gcp:project: is not set"),
        (
            {"schedules": [{"name": "a", "cron": "0 8 1 * *"}]},
            None,
            "pools[0].schedules[0].cron: '0 8 1 * *' sets day of month or month",
        ),
        (
            {
                "schedules": [
                    {"name": "a", "cron": "0 8 * * 1-5", "timezone": "UTC", "desired": 1},
                    {"name": "b", "cron": "0 20 * * *", "timezone": "Europe/Berlin"},
                ]
            },
            None,
            'pools[0].schedules: ["Europe/Berlin", "UTC"] use several time zones',
        ),
    ],
)
def test_bad_gcp_input_names_the_key_path(
    overrides: dict[str, Any], provider: dict[str, Any] | None, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(_raw(overrides, provider))
    assert expected in str(caught.value), str(caught.value)
