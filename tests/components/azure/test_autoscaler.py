"""cluster-autoscaler's Azure provider on azure-dev: discovery and node-template tags the provider can
read back, two custom roles (listing at the group, resizing only the pools' scale sets), the chart
values against the chart's own defaults, and expander patterns that match Pulumi's scale-set names."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from llmops.components.addons.charts import CLUSTER_AUTOSCALER, load_values
from llmops.components.azure.autoscaler import (
    ACCELERATOR_LABEL,
    LABEL_TAG,
    LIST_ACTIONS,
    RESOURCES_TAG,
    SCALE_ACTIONS,
    TAINT_TAG,
    node_template_tags,
    scale_set_pattern,
    tag_name,
)
from llmops.components.azure.plan_mocks import COMPUTED_OUTPUTS
from llmops.components.k3s.render import GPU_TAINT, K3S_CONFIG_PATH, NodeTaint
from llmops.infra.config import read_stack_file
from llmops.infra.plan import Plan, PlannedResource, run_plan

from tests.components.addons.test_autoscalers import CA_EXCEPTIONS
from tests.components.observability.test_helm_values import chart_defaults, walk
from tests.infra.test_plan_azure_dev import cloud_config

# Azure Resource Manager: tag names cannot hold these characters; 512 characters a name, 256 a
# value, 50 tags a resource (learn.microsoft.com, "Use tags to organize your Azure resources").
TAG_NAME_FORBIDDEN = set("<>%&\\?/")


@pytest.fixture(scope="module")
def plan(repo_root: Path) -> Plan:
    return run_plan(read_stack_file(repo_root / "stacks", "azure-dev"), "azure-dev")


def named(plan: Plan, name: str) -> PlannedResource:
    (found,) = [r for r in plan.resources if r.name == name]
    return found


# The provider's decoding, as azure_template.go (cluster-autoscaler 1.35.0) does it: the part after
# the prefix, `_` -> `/`, then `~2` -> `_`; taint values are `<value>:<effect>`.
def provider_labels(tags: dict[str, str]) -> dict[str, str]:
    out = {}
    for key, value in tags.items():
        parts = key.split(LABEL_TAG)
        if len(parts) > 1 and parts[1]:
            out[parts[1].replace("_", "/").replace("~2", "_")] = value
    return out


def provider_taints(tags: dict[str, str]) -> list[NodeTaint]:
    out = []
    for key, value in tags.items():
        parts = key.split(TAINT_TAG)
        match = re.match(r"(.*):(NoSchedule|NoExecute|PreferNoSchedule)$", value)
        if len(parts) > 1 and match:
            out.append(NodeTaint(parts[1].replace("_", "/").replace("~2", "_"), match[1], match[2]))  # type: ignore[arg-type]
    return out


@settings(max_examples=60)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9._-]{0,20}(/[a-z][a-z0-9_.-]{0,20})?", fullmatch=True),
        st.from_regex(r"[a-z0-9]{0,10}", fullmatch=True),
        max_size=6,
    )
)
def test_template_labels_read_back_through_the_providers_decoding(labels: dict[str, str]) -> None:
    tags = node_template_tags(labels, [GPU_TAINT], 1)
    assert provider_labels(tags) == labels
    assert provider_taints(tags) == [GPU_TAINT]
    assert not any(set(name) & TAG_NAME_FORBIDDEN for name in tags)


def test_tag_name_encodes_underscores_before_slashes() -> None:
    assert tag_name("llmops.io/pool") == "llmops.io_pool"
    assert tag_name("a_b/c") == "a~2b_c"


def test_scale_sets_carry_what_discovery_and_scale_from_zero_need(plan: Plan) -> None:
    for pool, low, high in (("t4-spot", 0, 3), ("t4-on-demand", 0, 2)):
        scale_set = named(plan, f"{pool}-vmss")
        tags = scale_set.inputs["tags"]
        assert (tags["cluster-autoscaler-enabled"], tags["cluster-autoscaler-name"]) == ("true", "azure-dev")
        assert (tags["min"], tags["max"]) == (str(low), str(high))
        # The template a pending pod is matched against equals what a real node registers with.
        _, document = cloud_config(scale_set)
        (k3s,) = [f for f in document["write_files"] if f["path"] == K3S_CONFIG_PATH]
        node_labels = dict(label.split("=", 1) for label in yaml.safe_load(k3s["content"])["node-label"])
        assert provider_labels(tags) == node_labels
        assert node_labels[ACCELERATOR_LABEL] == "nvidia"
        assert node_labels["llmops.io/pool"] == pool
        assert provider_taints(tags) == [GPU_TAINT]
        # extractAllocatableResourcesFromScaleSet: the part after the prefix, `_` -> `/`.
        resources = {
            key.split(RESOURCES_TAG)[1].replace("_", "/"): value
            for key, value in tags.items()
            if key.startswith(RESOURCES_TAG)
        }
        assert resources == {"nvidia.com/gpu": "1"}


def test_every_azure_tag_is_one_arm_accepts(plan: Plan) -> None:
    tagged = [r for r in plan.resources if r.type.startswith("azure-native:") and r.inputs.get("tags")]
    assert len(tagged) >= 4
    for resource in tagged:
        tags = resource.inputs["tags"]
        assert len(tags) <= 50, resource.name
        for key, value in tags.items():
            assert not set(key) & TAG_NAME_FORBIDDEN, (resource.name, key)
            assert len(key) <= 512 and len(str(value)) <= 256, (resource.name, key)


def test_cluster_autoscaler_may_list_the_group_and_resize_only_the_pools_scale_sets(plan: Plan) -> None:
    group = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/azure-dev-rg-plan"
    lister = named(plan, "azure-dev-autoscaler-lister").inputs
    scaler = named(plan, "azure-dev-autoscaler-scaler").inputs
    assert lister["permissions"] == [{"actions": list(LIST_ACTIONS)}]
    assert scaler["permissions"] == [{"actions": list(SCALE_ACTIONS)}]
    for role in (lister, scaler):
        assert role["assignableScopes"] == [group]
        assert role["roleType"] == "CustomRole"
        assert not any("*" in action for action in role["permissions"][0]["actions"])
    # Nothing in the scaler role reaches beyond a scale set and its instances.
    assert all(a.startswith("Microsoft.Compute/virtualMachineScaleSets/") for a in SCALE_ACTIONS)
    assert not any(a.endswith(("/write", "/delete/action")) for a in LIST_ACTIONS)

    # The servers' identity: the one that reads the servers' Key Vault secrets.
    principal = named(plan, "azure-dev-secret-token-reader").inputs["principalId"]
    assignments = {
        r.name: r.inputs
        for r in plan.of_type("azure-native:authorization:RoleAssignment")
        if r.name.startswith("azure-dev-autoscaler-")
    }
    assert set(assignments) == {
        "azure-dev-autoscaler-lists",
        "azure-dev-autoscaler-scales-t4-spot",
        "azure-dev-autoscaler-scales-t4-on-demand",
    }
    for assignment in assignments.values():
        assert assignment["principalId"] == principal
        assert assignment["principalType"] == "ServicePrincipal"
    assert assignments["azure-dev-autoscaler-lists"]["scope"] == group
    assert assignments["azure-dev-autoscaler-lists"]["roleDefinitionId"] == "azure-dev-autoscaler-lister-id"
    for pool in ("t4-spot", "t4-on-demand"):
        scales = assignments[f"azure-dev-autoscaler-scales-{pool}"]
        # The mocks give each resource the id "<name>-id": the scope is that one scale set.
        assert scales["scope"] == f"{pool}-vmss-id"
        assert scales["roleDefinitionId"] == "azure-dev-autoscaler-scaler-id"


def _values(plan: Plan) -> dict[str, Any]:
    return named(plan, "azure-dev-autoscaler-release").inputs["values"]


def test_values_select_the_azure_provider_with_the_servers_identity(plan: Plan) -> None:
    values = _values(plan)
    named(plan, "azure-dev-server-identity")  # the servers' user-assigned identity exists
    server = COMPUTED_OUTPUTS["azure-native:managedidentity:UserAssignedIdentity"](
        "azure-dev-server-identity"
    )
    assert values["cloudProvider"] == "azure"
    assert values["azureVMType"] == "vmss"
    assert values["azureUseManagedIdentityExtension"] is True
    assert values["azureUserAssignedIdentityID"] == server["clientId"]
    assert values["azureResourceGroup"] == "azure-dev-rg-plan"
    assert values["azureSubscriptionID"] == "00000000-0000-0000-0000-000000000000"
    assert values["autoDiscovery"] == {"clusterName": "azure-dev", "tags": []}
    assert not values.get("azureClientSecret")
    assert values["hostNetwork"] is True  # the identity's token comes from IMDS on the server
    assert values["nodeSelector"] == {"node-role.kubernetes.io/control-plane": "true"}


def test_values_exist_in_the_pinned_chart(plan: Plan) -> None:
    values = _values(plan)
    # Free-form maps (flags, security contexts, resources, priorities, node labels) the AWS flavour's
    # test lists with their reasons; every Azure key must be one the chart's values.yaml has.
    problems, _ = walk(values, chart_defaults(CLUSTER_AUTOSCALER), CA_EXCEPTIONS)
    assert not problems, "\n".join(problems)
    # The file of the AWS flavour is the base: only the Azure keys differ at the top level.
    base = load_values(CLUSTER_AUTOSCALER)
    assert set(values) - set(base) >= {"azureVMType", "azureUseManagedIdentityExtension"}


def test_spot_pool_is_preferred_over_its_fallback_by_scale_set_name(plan: Plan) -> None:
    priorities = _values(plan)["expanderPriorities"]
    assert priorities == {
        "30": [scale_set_pattern("t4-spot")],
        "10": [scale_set_pattern("t4-on-demand")],
    }
    spot, fallback = re.compile(scale_set_pattern("t4-spot")), re.compile(scale_set_pattern("t4-on-demand"))
    # Pulumi's auto-name: the logical name plus a random hex suffix.
    assert spot.match("t4-spot-vmss1a2b3c4d") and spot.match("t4-spot-vmss-1a2b3c4d")
    assert not spot.match("t4-on-demand-vmss1a2b3c4d") and not fallback.match("t4-spot-vmss1a2b3c4d")
    assert not spot.match("t4-spot-2-vmss1a2b3c4d")
