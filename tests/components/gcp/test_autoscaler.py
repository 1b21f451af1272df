"""cluster-autoscaler on GCP: zonal MIGs found by name prefix, a scale-from-zero node template in
each instance template, IAM that resizes only the pools' MIGs, spot before its fallback. The real
program under the plan's mocks, plus the pure parts against the GCE provider's formats."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from llmops.components.addons.charts import CLUSTER_AUTOSCALER
from llmops.components.addons.cluster_autoscaler import (
    ClusterAutoscalerArgs,
    NodeGroup,
    cluster_autoscaler_values,
)
from llmops.components.cloud import Cloud, kit
from llmops.components.gcp.autoscaler import (
    GPU_LABEL,
    READ_PERMISSIONS,
    RESIZE_PERMISSIONS,
    group_pattern,
    kube_env,
    resize_condition,
    role_id,
    zonal_groups,
    zone_sizes,
)
from llmops.components.k3s.render import GPU_TAINT
from llmops.infra.config import ConfigError, parse, split_namespace
from llmops.infra.plan import Plan, PlannedResource, run_plan

from tests.components.observability.test_helm_values import walk
from tests.conftest import require_shared

ZONES = ["us-central1-a", "us-central1-b", "us-central1-c"]
PROJECT = "my-llmops-project"


@pytest.fixture(scope="module")
def gcp_dev(repo_root: Path) -> dict[str, Any]:
    return yaml.safe_load((repo_root / "stacks" / "Pulumi.gcp-dev.yaml").read_text())["config"]


def autoscaled_config(config: dict[str, Any]) -> dict[str, Any]:
    """gcp-dev with nodeAutoscaling on; its pools' MIG schedules go (they cannot share a MIG with it)."""
    out = copy.deepcopy(config)
    for pool in out["llmops:pools"]:
        pool.pop("schedules", None)
    out["llmops:nodeAutoscaling"] = {"enabled": True}
    return out


@pytest.fixture(scope="module")
def plan(gcp_dev: dict[str, Any]) -> Plan:
    return run_plan(split_namespace("test", autoscaled_config(gcp_dev)), "gcp-dev")


def named(plan: Plan, name: str, type_token: str | None = None) -> PlannedResource:
    (found,) = [r for r in plan.resources if r.name == name and (type_token is None or r.type == type_token)]
    return found


def release(plan: Plan) -> dict[str, Any]:
    (found,) = [
        r for r in plan.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "cluster-autoscaler"
    ]
    return found.inputs


def test_the_kit_builds_a_node_autoscaler() -> None:
    assert kit(Cloud.GCP).node_autoscaler_unavailable is None


def test_autoscaled_pools_are_zonal_migs_splitting_min_and_max(plan: Plan) -> None:
    assert not plan.of_type("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")
    assert not plan.of_type("gcp:compute/regionAutoscaler:RegionAutoscaler")  # the autoscaler owns the size
    groups = plan.of_type("gcp:compute/instanceGroupManager:InstanceGroupManager")
    by_pool: dict[str, list[PlannedResource]] = {}
    for group in groups:
        by_pool.setdefault(group.name.rsplit("-us-central1-", 1)[0], []).append(group)
    assert set(by_pool) == {"l4-spot", "l4-on-demand"}
    for pool, members in by_pool.items():
        assert sorted(g.inputs["zone"] for g in members) == ZONES
        # One instance template, the pool's; node names carry the zone letter (unique across zones).
        assert {g.inputs["versions"][0]["instanceTemplate"] for g in members} == {
            f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/{pool}-template?uniqueId=1"
        }
        assert sorted(g.inputs["baseInstanceName"] for g in members) == [f"{pool}-{z[-1]}" for z in ZONES]
    # desired 1 on the spot pool: one node, in the first zone.
    assert sum(g.inputs["targetSize"] for g in by_pool["l4-spot"]) == 1
    assert sum(g.inputs["targetSize"] for g in by_pool["l4-on-demand"]) == 0


def test_discovery_finds_every_zonal_mig_with_the_pools_bounds(plan: Plan) -> None:
    values = release(plan)["values"]
    assert values["cloudProvider"] == "gce"
    assert values["extraArgs"]["regional"] is True  # every zone of the region, not only the servers'
    assert "awsRegion" not in values and "tags" not in values["autoDiscovery"]
    assert values["autoDiscovery"]["clusterName"] == "gcp-dev"  # the chart renders nothing without it
    prefixes = values["autoscalingGroupsnamePrefix"]
    names = [g.name for g in plan.of_type("gcp:compute/instanceGroupManager:InstanceGroupManager")]
    # Each MIG is matched by exactly one prefix (the provider's `^<prefix>.+`), each prefix by one MIG.
    for prefix in prefixes:
        matching = [n for n in names if re.match(f"^{re.escape(prefix['name'])}.+", f"{n}-1a2b3c4")]
        assert len(matching) == 1, prefix
    assert len(prefixes) == len(names) == 6
    # The per-zone bounds add up to the pool's own (stack: spot max 4, on-demand max 2, both min 0).
    for pool, maximum in (("l4-spot", 4), ("l4-on-demand", 2)):
        mine = [p for p in prefixes if p["name"].startswith(f"{pool}-us-")]
        assert sum(p["maxSize"] for p in mine) == maximum
        assert sum(p["minSize"] for p in mine) == 0


def test_spot_is_tried_before_its_on_demand_fallback(plan: Plan) -> None:
    table = release(plan)["values"]["expanderPriorities"]
    rank = {pattern: int(priority) for priority, patterns in table.items() for pattern in patterns}
    spot, fallback = (group_pattern(pool, ZONES) for pool in ("l4-spot", "l4-on-demand"))
    assert rank[spot] > rank[fallback]
    # The patterns match the provider's node group ids (MIG URLs) of their own pool only.
    url = "https://www.googleapis.com/compute/v1/projects/p/zones/{zone}/instanceGroups/{name}"
    spot_id = url.format(zone="us-central1-b", name="l4-spot-us-central1-b-7216186")
    fallback_id = url.format(zone="us-central1-b", name="l4-on-demand-us-central1-b-38cee6e")
    assert re.search(spot, spot_id) and not re.search(spot, fallback_id)
    assert re.search(fallback, fallback_id) and not re.search(fallback, spot_id)


def test_the_release_is_the_pinned_chart_on_the_servers(plan: Plan) -> None:
    inputs = release(plan)
    assert (inputs["chart"], inputs["version"]) == ("cluster-autoscaler", CLUSTER_AUTOSCALER.version)
    assert inputs["values"]["nodeSelector"] == {"node-role.kubernetes.io/control-plane": "true"}
    assert inputs["values"]["hostNetwork"] is True


def test_the_servers_account_reads_the_project_and_resizes_only_the_pools_migs(plan: Plan) -> None:
    roles = {r.name: r.inputs for r in plan.of_type("gcp:projects/iAMCustomRole:IAMCustomRole")}
    members = {r.name: r.inputs for r in plan.of_type("gcp:projects/iAMMember:IAMMember")}
    read, resize = roles["gcp-dev-servers-ca-read"], roles["gcp-dev-servers-ca-resize"]
    assert read["permissions"] == list(READ_PERMISSIONS)
    assert not [p for p in read["permissions"] if not p.endswith((".get", ".list"))]
    assert resize["permissions"] == list(RESIZE_PERMISSIONS) == ["compute.instanceGroupManagers.update"]
    account = named(plan, "gcp-dev-server-sa").inputs["accountId"]
    server = f"serviceAccount:{account}@{PROJECT}.iam.gserviceaccount.com"
    assert (
        members["gcp-dev-servers-ca-read"]["member"]
        == members["gcp-dev-servers-ca-resize"]["member"]
        == server
    )
    assert members["gcp-dev-servers-ca-read"]["role"] == f"projects/{PROJECT}/roles/{read['roleId']}"
    assert "condition" not in members["gcp-dev-servers-ca-read"]
    condition = members["gcp-dev-servers-ca-resize"]["condition"]["expression"]
    named_migs = re.findall(
        r'resource\.name == "projects/([^/]+)/zones/([^/]+)/instanceGroupManagers/([^"]+)"', condition
    )
    assert {project for project, _, _ in named_migs} == {PROJECT}
    prefixes = {p["name"] for p in release(plan)["values"]["autoscalingGroupsnamePrefix"]}
    # Exactly the discovered MIGs, each in its own zone; nothing else.
    assert len(named_migs) == len(prefixes) == 6
    for _, zone, name in named_migs:
        (prefix,) = [p for p in prefixes if name.startswith(p)]
        assert prefix.endswith(f"{zone}-")
    assert condition.count(" || ") == 5 and "&&" not in condition


def test_each_template_describes_its_node_for_scale_from_zero(plan: Plan) -> None:
    for pool in ("l4-spot", "l4-on-demand"):
        template = named(plan, f"{pool}-template").inputs
        env = parse_kube_env(template["metadata"]["kube-env"])
        assert env["extended_resources"] == {"nvidia.com/gpu": "1"}  # g2-standard-8: one L4
        assert env["node_labels"]["llmops.io/pool"] == pool
        assert env["node_labels"][GPU_LABEL] == "nvidia-l4"
        assert env["node_taints"] == {GPU_TAINT.key: (GPU_TAINT.value, GPU_TAINT.effect)}
        # The node itself carries what the template promises (K3s node labels in its config).
        assert f"{GPU_LABEL}=nvidia-l4" in template["metadata"]["user-data"]


def test_the_autoscaled_program_runs_in_preview(gcp_dev: dict[str, Any]) -> None:
    preview = run_plan(split_namespace("test", autoscaled_config(gcp_dev)), "gcp-dev", preview=True)
    assert preview.of_type("gcp:projects/iAMMember:IAMMember")
    assert len(preview.of_type("gcp:compute/instanceGroupManager:InstanceGroupManager")) == 6


def test_mig_schedules_with_node_autoscaling_are_a_key_path_error(gcp_dev: dict[str, Any]) -> None:
    config = copy.deepcopy(gcp_dev)
    config["llmops:nodeAutoscaling"] = {"enabled": True}
    with pytest.raises(ConfigError) as caught:
        parse(split_namespace("test", config))
    assert (
        'pools[0].schedules: ["workday", "night"] cannot hold a pool that cluster-autoscaler resizes on GCP'
        in str(caught.value)
    )
    assert "Fix: remove the pool's schedules and put the windows on the model's autoscaling.windows" in str(
        caught.value
    )


def test_by_default_scheduled_pools_keep_their_mig_schedules(gcp_dev: dict[str, Any]) -> None:
    # A model that autoscales turns node autoscaling on by default, but not over a pool's schedules.
    config = copy.deepcopy(gcp_dev)
    model = config["llmops:models"][0]
    del model["replicas"]
    model["autoscaling"] = {"minReplicas": 1, "maxReplicas": 2}
    scheduled = run_plan(split_namespace("test", config), "gcp-dev")
    assert not [
        r
        for r in scheduled.of_type("kubernetes:helm.sh/v3:Release")
        if r.inputs["chart"] == "cluster-autoscaler"
    ]
    assert scheduled.of_type("gcp:compute/regionAutoscaler:RegionAutoscaler")
    # Without schedules the same default builds it.
    for pool in config["llmops:pools"]:
        pool.pop("schedules", None)
    unscheduled = run_plan(split_namespace("test", config), "gcp-dev")
    assert [
        r
        for r in unscheduled.of_type("kubernetes:helm.sh/v3:Release")
        if r.inputs["chart"] == "cluster-autoscaler"
    ]


# --- pure parts -------------------------------------------------------------------------


def parse_kube_env(text: str) -> dict[str, Any]:
    """AUTOSCALER_ENV_VARS read the way the GCE provider reads it (templates.go): `;`-separated
    `name=value`, lists `,`-separated `key=value`, taints `value:effect`."""
    env = yaml.safe_load(text)
    variables = dict(item.split("=", 1) for item in env["AUTOSCALER_ENV_VARS"].split(";"))
    out: dict[str, Any] = dict(variables)
    for name in ("node_labels", "extended_resources"):
        out[name] = dict(entry.split("=", 1) for entry in variables[name].split(","))
    taints = dict(entry.split("=", 1) for entry in variables["node_taints"].split(","))
    out["node_taints"] = {key: tuple(value.split(":", 1)) for key, value in taints.items()}
    return out


def test_kube_env_refuses_what_the_list_format_cannot_carry() -> None:
    with pytest.raises(ValueError, match="cannot appear in a kube-env list entry"):
        kube_env({"team": "a,b"}, [], 1, "nvidia-l4")
    env = parse_kube_env(kube_env({"llmops.io/pool": "p"}, [GPU_TAINT], 8, "nvidia-h100-80gb"))
    assert (env["os"], env["os_distribution"], env["arch"]) == ("linux", "ubuntu", "amd64")
    assert env["extended_resources"] == {"nvidia.com/gpu": "8"}


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=200), st.integers(min_value=1, max_value=6))
def test_zone_sizes_add_up_and_differ_by_at_most_one(total: int, zone_count: int) -> None:
    zones = [f"z-{i}" for i in range(zone_count)]
    sizes = zone_sizes(total, zones)
    assert sum(sizes.values()) == total
    assert max(sizes.values()) - min(sizes.values()) <= 1
    groups = zonal_groups("p", zones, min(total, 3), total)
    assert all(g.min_size <= g.max_size for g in groups)


def test_resize_condition_names_each_mig_once() -> None:
    text = resize_condition("proj", [("us-central1-b", "b-1"), ("us-central1-a", "a-1")])
    assert text == (
        'resource.name == "projects/proj/zones/us-central1-a/instanceGroupManagers/a-1" || '
        'resource.name == "projects/proj/zones/us-central1-b/instanceGroupManagers/b-1"'
    )


def test_role_ids_fit_gcp_custom_role_rules(plan: Plan) -> None:
    for role in plan.of_type("gcp:projects/iAMCustomRole:IAMCustomRole"):
        assert re.fullmatch(r"[a-zA-Z0-9_.]{3,64}", role.inputs["roleId"]), role.inputs["roleId"]
    long = role_id("x" * 80, "resize")
    assert len(long) <= 64


GCE_EXCEPTIONS = {
    "extraArgs.expander": "cluster-autoscaler flag",
    "extraArgs.balance-similar-node-groups": "cluster-autoscaler flag",
    "extraArgs.skip-nodes-with-local-storage": "cluster-autoscaler flag",
    "extraArgs.skip-nodes-with-system-pods": "cluster-autoscaler flag",
    "extraArgs.max-node-provision-time": "cluster-autoscaler flag",
    "extraArgs.scale-down-unneeded-time": "cluster-autoscaler flag",
    "extraArgs.regional": "cluster-autoscaler flag (GCE provider: discover in every zone of the region)",
    "containerSecurityContext.allowPrivilegeEscalation": "container SecurityContext field",
    "containerSecurityContext.readOnlyRootFilesystem": "container SecurityContext field",
    "containerSecurityContext.capabilities": "container SecurityContext field",
    "securityContext.runAsNonRoot": "pod SecurityContext field",
    "securityContext.runAsUser": "pod SecurityContext field",
    "securityContext.runAsGroup": "pod SecurityContext field",
    "securityContext.seccompProfile": "pod SecurityContext field",
    "resources.requests": "ResourceRequirements field",
    "resources.limits": "ResourceRequirements field",
    "expanderPriorities.30": "priority of the spot pool",
    "expanderPriorities.10": "priority of the on-demand pool",
    "nodeSelector.node-role.kubernetes.io/control-plane": "node label",
}


def test_gce_values_exist_in_the_chart(plan: Plan) -> None:
    defaults = yaml.safe_load(
        require_shared("reference/helm-values/cluster-autoscaler-9.59.0.values.yaml").read_text()
    )
    problems, used = walk(release(plan)["values"], defaults, GCE_EXCEPTIONS)
    assert not problems, "\n".join(problems)
    assert used == set(GCE_EXCEPTIONS)
    # The chart's own entry shape for GCE discovery (its commented example: name, maxSize, minSize).
    for entry in release(plan)["values"]["autoscalingGroupsnamePrefix"]:
        assert set(entry) == {"name", "minSize", "maxSize"}


def test_cloud_values_leave_the_aws_defaults_alone() -> None:
    class _Provider:
        pass

    args = ClusterAutoscalerArgs(
        provider=_Provider(),  # type: ignore[arg-type]
        cluster_name="c",
        region="us-east-1",
        node_groups=[NodeGroup("p", "spot", "^p$")],
    )
    assert cluster_autoscaler_values(args)["awsRegion"] == "us-east-1"
    args.cloud_values = {"cloudProvider": "gce"}
    values = cluster_autoscaler_values(args)
    assert values["cloudProvider"] == "gce" and "awsRegion" not in values
