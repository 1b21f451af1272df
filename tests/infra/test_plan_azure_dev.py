"""The `azure-dev` stack under the plan's mocks: network rules, Key Vault per-secret access, Spot scale
sets, schedule profiles, the bootstrap documents, and no secret in the clear."""

from __future__ import annotations

import base64
import ipaddress
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from llmops.components.azure.gpu_pool import SHUTDOWN_GRACE, WATCHER_UNIT
from llmops.components.azure.secrets import KEY_VAULT_SECRETS_USER
from llmops.components.k3s.render import K3S_CONFIG_PATH, NODE_ETC_DIR
from llmops.infra import artifacts
from llmops.infra.config import read_stack_file
from llmops.infra.plan import MOCK_SECRET_MARKER, Plan, PlannedResource, run_plan

from tests.components.k3s.cloud_init_schema import cloud_config_schema

ALLOWED = "203.0.113.0/24"
SUBNET = "10.30.0.0/20"
SERVER = "10.30.0.10/32"
INTERNET = {"*", "0.0.0.0/0", "internet", "any", "0.0.0.0"}


@pytest.fixture(scope="module")
def plan(repo_root: Path) -> Plan:
    return run_plan(read_stack_file(repo_root / "stacks", "azure-dev"), "azure-dev")


def named(plan: Plan, name: str) -> PlannedResource:
    (found,) = [r for r in plan.resources if r.name == name]
    return found


def cloud_config(resource: PlannedResource) -> tuple[str, dict[str, Any]]:
    profile = resource.inputs.get("virtualMachineProfile") or resource.inputs
    text = base64.b64decode(profile["osProfile"]["customData"]).decode()
    assert text.startswith("#cloud-config\n")
    return text, yaml.safe_load(text)


def test_objects(plan: Plan) -> None:
    counts = plan.by_type()
    assert counts["llmops:azure:AzureNetwork"] == 1
    assert counts["llmops:azure:AzureGpuNodePool"] == 2
    assert counts["azure-native:resources:ResourceGroup"] == 1
    assert counts["azure-native:network:VirtualNetwork"] == 1
    assert counts["azure-native:network:Subnet"] == 1
    assert counts["azure-native:network:NetworkSecurityGroup"] == 1
    assert counts["azure-native:keyvault:Vault"] == 1
    assert counts["azure-native:compute:VirtualMachine"] == 1  # one K3s server
    assert counts["azure-native:compute:VirtualMachineScaleSet"] == 2
    assert counts["azure-native:monitor:AutoscaleSetting"] == 1  # only the pool with schedules
    subnet = plan.of_type("azure-native:network:Subnet")[0].inputs
    assert subnet["addressPrefix"] == SUBNET
    assert subnet["defaultOutboundAccess"] is False
    assert plan.outputs["apiEndpoint"] == "https://203.0.113.20:6443"


def _ports(rule: dict[str, Any]) -> tuple[int, int]:
    text = rule["destinationPortRange"]
    if text == "*":
        return 0, 65535
    low, _, high = text.partition("-")
    return int(low), int(high or low)


def test_no_ssh_and_api_only_from_the_allowed_ranges_and_the_nodes(plan: Plan) -> None:
    (nsg,) = plan.of_type("azure-native:network:NetworkSecurityGroup")
    rules = nsg.inputs["securityRules"]
    allows = [r for r in rules if r["access"] == "Allow"]
    assert allows
    for rule in allows:
        sources = rule.get("sourceAddressPrefixes") or [rule.get("sourceAddressPrefix")]
        assert not {str(s).lower() for s in sources} & INTERNET, rule
        low, high = _ports(rule)
        assert not low <= 22 <= high, f"{rule['name']} opens SSH"
        assert rule["direction"] == "Inbound"
        if low <= 6443 <= high:
            assert set(sources) <= {ALLOWED, SUBNET}, rule
            assert rule["destinationAddressPrefixes"] == [SERVER]
        else:
            # Everything else stays inside the virtual network.
            net = ipaddress.IPv4Network(SUBNET)
            assert all(ipaddress.IPv4Network(s).subnet_of(net) for s in sources), rule
    by_name = {r["name"]: r for r in allows}
    assert by_name["k3s-api-from-allowed"]["sourceAddressPrefixes"] == [ALLOWED]
    assert by_name["overlay-between-nodes"]["destinationPortRange"] == "8472"
    assert by_name["kubelet-between-nodes"]["destinationPortRange"] == "10250"
    assert by_name["etcd-between-servers"]["sourceAddressPrefixes"] == [SERVER]
    # Azure's default rules admit the whole virtual network; the last rule closes that.
    (deny,) = [r for r in rules if r["access"] == "Deny"]
    assert deny["sourceAddressPrefix"] == "VirtualNetwork"
    assert deny["priority"] > max(r["priority"] for r in allows)


def test_spot_pool_is_spot_delete_at_any_price_and_fallback_is_regular(plan: Plan) -> None:
    spot = named(plan, "t4-spot-vmss").inputs
    profile = spot["virtualMachineProfile"]
    assert profile["priority"] == "Spot"
    assert profile["evictionPolicy"] == "Delete"
    assert profile["billingProfile"] == {"maxPrice": -1}
    template = "k8s.io_cluster-autoscaler_node-template_"
    assert spot["tags"] == {
        "llmops-cluster": "azure-dev",
        "llmops-pool": "t4-spot",
        "llmops-capacity": "spot",
        "cluster-autoscaler-enabled": "true",
        "cluster-autoscaler-name": "azure-dev",
        "min": "0",
        "max": "3",
        f"{template}label_llmops.io_pool": "t4-spot",
        f"{template}label_llmops.io_cloud": "azure",
        f"{template}label_llmops.io_capacity": "spot",
        f"{template}label_nvidia.com_gpu.present": "true",
        f"{template}label_kubernetes.azure.com_accelerator": "nvidia",
        f"{template}taint_nvidia.com_gpu": "true:NoSchedule",
        f"{template}resources_nvidia.com_gpu": "1",
    }
    assert spot["sku"] == {"name": "Standard_NC4as_T4_v3", "tier": "Standard", "capacity": 1}
    regular = named(plan, "t4-on-demand-vmss").inputs["virtualMachineProfile"]
    assert regular["priority"] == "Regular"
    assert "evictionPolicy" not in regular and "billingProfile" not in regular


def test_machines_have_encrypted_disks_a_managed_identity_and_no_password(plan: Plan) -> None:
    machines = [r.inputs for r in plan.of_type("azure-native:compute:VirtualMachineScaleSet")]
    machines += [r.inputs for r in plan.of_type("azure-native:compute:VirtualMachine")]
    for inputs in machines:
        profile = inputs.get("virtualMachineProfile") or inputs
        assert profile["securityProfile"]["encryptionAtHost"] is True
        assert profile["storageProfile"]["osDisk"]["managedDisk"]["storageAccountType"] == "Premium_LRS"
        assert profile["osProfile"]["linuxConfiguration"]["disablePasswordAuthentication"] is True
        assert "adminPassword" not in profile["osProfile"]
        assert inputs["identity"]["type"] == "UserAssigned"
        assert len(inputs["identity"]["userAssignedIdentities"]) == 1


def test_key_vault_is_rbac_and_each_identity_reads_only_its_secrets(plan: Plan) -> None:
    (vault,) = plan.of_type("azure-native:keyvault:Vault")
    assert vault.inputs["properties"]["enableRbacAuthorization"] is True
    secrets = {r.name: r for r in plan.of_type("azure-native:keyvault:Secret")}
    every = plan.of_type("azure-native:authorization:RoleAssignment")
    assignments = [a for a in every if a.name.endswith("-reader")]
    # The rest are cluster-autoscaler's (test_cluster_autoscaler_may_resize_only_the_pools_scale_sets).
    assert {a.name for a in every} - {a.name for a in assignments} == {
        "azure-dev-autoscaler-lists",
        "azure-dev-autoscaler-scales-t4-spot",
        "azure-dev-autoscaler-scales-t4-on-demand",
    }
    assert len(assignments) == len(secrets) > 2
    for assignment in assignments:
        secret = assignment.name.removesuffix("-reader")
        assert secret in secrets
        # The mocks give each resource the id "<name>-id": the scope is that one secret.
        assert assignment.inputs["scope"] == f"{secret}-id"
        assert assignment.inputs["roleDefinitionId"].endswith(f"/roleDefinitions/{KEY_VAULT_SECRETS_USER}")
        assert assignment.inputs["principalType"] == "ServicePrincipal"
    principals = {a.name: a.inputs["principalId"] for a in assignments}
    pool = principals["t4-spot-agent-token-reader"]
    assert [name for name, principal in principals.items() if principal == pool] == [
        "t4-spot-agent-token-reader"
    ]
    server = principals["azure-dev-secret-agent-token-reader"]
    assert server != pool
    assert {principals[name] for name in principals if name.startswith("azure-dev-secret-")} == {server}


def test_secret_values_are_secrets(plan: Plan) -> None:
    for secret in plan.of_type("azure-native:keyvault:Secret"):
        assert "[secret]" in json.dumps(secret.inputs["properties"]), secret.name


def test_plan_json_and_custom_data_hold_no_secret_plaintext(plan: Plan, tmp_path: Path) -> None:
    text = (artifacts.write(plan, tmp_path) / "plan.json").read_text()
    assert "BEGIN CERTIFICATE" in text  # public material is shown, so the check can fail
    assert MOCK_SECRET_MARKER not in text
    for resource in [
        *plan.of_type("azure-native:compute:VirtualMachineScaleSet"),
        *plan.of_type("azure-native:compute:VirtualMachine"),
    ]:
        document, _ = cloud_config(resource)
        assert MOCK_SECRET_MARKER not in document
        assert "PRIVATE KEY" not in document


def test_agent_bootstrap_is_valid_cloud_config_with_labels_taints_and_eviction_handling(plan: Plan) -> None:
    _, document = cloud_config(named(plan, "t4-spot-vmss"))
    assert list(jsonschema.Draft4Validator(cloud_config_schema()).iter_errors(document)) == []
    files = {entry["path"]: entry["content"] for entry in document["write_files"]}
    config = yaml.safe_load(files[K3S_CONFIG_PATH])
    assert config["server"] == "https://10.30.0.10:6443"
    assert set(config["node-label"]) >= {
        "llmops.io/pool=t4-spot",
        "llmops.io/cloud=azure",
        "llmops.io/capacity=spot",
        "nvidia.com/gpu.present=true",
    }
    assert config["node-taint"] == ["nvidia.com/gpu=true:NoSchedule"]
    assert config["kubelet-arg"] == list(SHUTDOWN_GRACE)
    assert "LLMOPS_CLOUD=azure" in files[f"{NODE_ETC_DIR}/bootstrap.env"]
    assert "LLMOPS_PROVIDER_ID=cloud" in files[f"{NODE_ETC_DIR}/bootstrap.env"]
    (secret_line,) = files[f"{NODE_ETC_DIR}/secrets.list"].splitlines()
    vault = plan.of_type("azure-native:keyvault:Vault")[0].inputs["vaultName"]
    assert secret_line.startswith(
        f"https://{vault}.vault.azure.net/secrets/azure-dev-pools-t4-spot-agent-token "
    )
    assert f"/etc/systemd/system/{WATCHER_UNIT}" in files
    # The watcher starts before the agent bootstrap.
    assert document["runcmd"][1] == ["systemctl", "enable", "--now", WATCHER_UNIT]
    assert document["runcmd"][-1] == ["/usr/local/lib/llmops/agent.sh"]


def test_server_bootstrap_is_valid_cloud_config(plan: Plan) -> None:
    _, document = cloud_config(plan.of_type("azure-native:compute:VirtualMachine")[0])
    assert list(jsonschema.Draft4Validator(cloud_config_schema()).iter_errors(document)) == []
    files = {entry["path"]: entry["content"] for entry in document["write_files"]}
    assert all(line.startswith("https://") for line in files[f"{NODE_ETC_DIR}/secrets.list"].splitlines())


def test_schedules_become_weekly_autoscale_profiles(plan: Plan) -> None:
    (setting,) = plan.of_type("azure-native:monitor:AutoscaleSetting")
    assert setting.inputs["targetResourceUri"] == "t4-spot-vmss-id"
    assert setting.inputs["enabled"] is True
    profiles = {p["name"]: p for p in setting.inputs["profiles"]}
    assert profiles["workday"]["capacity"] == {"minimum": "1", "maximum": "3", "default": "2"}
    assert profiles["workday"]["recurrence"] == {
        "frequency": "Week",
        "schedule": {
            "days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
            "hours": [8],
            "minutes": [0],
            "timeZone": "W. Europe Standard Time",
        },
    }
    assert len(profiles["night"]["recurrence"]["schedule"]["days"]) == 7
    assert profiles["night"]["capacity"]["default"] == "0"


def test_no_termination_handler_release_on_azure(plan: Plan) -> None:
    releases = [d for d in artifacts.manifests(plan).values() if d["kind"] == "HelmRelease"]
    assert not [r for r in releases if "termination" in json.dumps(r)]


def test_gpu_operator_installs_the_driver(plan: Plan) -> None:
    (release,) = [
        d
        for d in artifacts.manifests(plan).values()
        if d["kind"] == "HelmRelease" and d["chart"] == "gpu-operator"
    ]
    assert release["values"]["driver"]["enabled"] is True


def test_preview_runs_with_unknowns(repo_root: Path) -> None:
    preview = run_plan(read_stack_file(repo_root / "stacks", "azure-dev"), "azure-dev", preview=True)
    assert preview.outputs["kubeconfig"] in ("[unknown]", "[secret]")
    assert len(preview.of_type("azure-native:compute:VirtualMachineScaleSet")) == 2
    assert json.dumps(preview.to_json())
