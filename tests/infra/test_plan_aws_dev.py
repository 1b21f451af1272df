"""The `aws-dev` stack under the plan's mocks: network, K3s, GPU pools, the model, no secret in the clear."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from llmops.infra import artifacts
from llmops.infra.config import read_stack_file
from llmops.infra.plan import MOCK_SECRET_MARKER, Plan, PlannedResource, run_plan


@pytest.fixture(scope="module")
def plan(repo_root: Path) -> Plan:
    return run_plan(read_stack_file(repo_root / "stacks", "aws-dev"), "aws-dev")


def named(plan: Plan, name: str) -> PlannedResource:
    (found,) = [r for r in plan.resources if r.name == name]
    return found


def test_network_servers_pools_and_model(plan: Plan) -> None:
    counts = plan.by_type()
    assert counts["llmops:aws:AwsNetwork"] == 1
    assert counts["llmops:k3s:K3sCluster"] == 1
    assert counts["llmops:aws:AwsGpuNodePool"] == 2
    assert counts["llmops:aws:SpotInterruptionHandler"] == 1
    assert counts["llmops:serving:VllmModel"] == 1
    assert counts["aws:ec2/vpc:Vpc"] == 1
    assert counts["aws:ec2/subnet:Subnet"] >= 2
    assert counts["aws:ec2/instance:Instance"] == 1  # one K3s server
    assert counts["aws:autoscaling/group:Group"] == 2


def test_subnets_span_two_zones(plan: Plan) -> None:
    zones = {s.inputs["availabilityZone"] for s in plan.of_type("aws:ec2/subnet:Subnet")}
    assert len(zones) >= 2


def test_gpu_launch_templates_require_imdsv2_and_encrypt_disks(plan: Plan) -> None:
    templates = plan.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    assert len(templates) == 2
    for template in templates:
        assert template.inputs["metadataOptions"]["httpTokens"] == "required"
        (disk,) = template.inputs["blockDeviceMappings"]
        assert disk["ebs"]["encrypted"] == "true"
        assert disk["ebs"]["volumeType"] == "gp3"
    server = plan.of_type("aws:ec2/instance:Instance")[0].inputs
    assert server["metadataOptions"]["httpTokens"] == "required"
    assert server["rootBlockDevice"]["encrypted"] is True


def test_no_ssh_and_no_open_ingress(plan: Plan) -> None:
    for group in plan.of_type("aws:ec2/securityGroup:SecurityGroup"):
        for rule in group.inputs.get("ingress", []):
            assert not rule["fromPort"] <= 22 <= rule["toPort"], f"{group.name} opens port 22: {rule}"
            assert "0.0.0.0/0" not in rule.get("cidrBlocks", []), (
                f"{group.name} is open to the internet: {rule}"
            )
    for rule in plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        assert rule.inputs.get("cidrIpv4") != "0.0.0.0/0"


def distribution(plan: Plan, pool: str) -> dict[str, Any]:
    return named(plan, f"{pool}-group").inputs["mixedInstancesPolicy"]["instancesDistribution"]


def test_spot_pool_uses_price_capacity_optimized_spot(plan: Plan) -> None:
    group = named(plan, "l4-spot-group").inputs
    assert distribution(plan, "l4-spot") == {
        "onDemandAllocationStrategy": "prioritized",
        "onDemandBaseCapacity": 0,
        "onDemandPercentageAboveBaseCapacity": 0,
        "spotAllocationStrategy": "price-capacity-optimized",
    }
    assert group["capacityRebalance"] is True
    overrides = group["mixedInstancesPolicy"]["launchTemplate"]["overrides"]
    assert [o["instanceType"] for o in overrides] == ["g6.xlarge", "g6.2xlarge", "g6.4xlarge"]
    assert (group["minSize"], group["maxSize"], group["desiredCapacity"]) == (0, 4, 1)


def test_fallback_pool_is_on_demand(plan: Plan) -> None:
    assert distribution(plan, "l4-on-demand")["onDemandPercentageAboveBaseCapacity"] == 100
    assert named(plan, "l4-on-demand-group").inputs["capacityRebalance"] is False


def test_schedules_become_scheduled_actions(plan: Plan) -> None:
    actions = {a.name: a.inputs for a in plan.of_type("aws:autoscaling/schedule:Schedule")}
    assert actions["l4-spot-schedule-workday"] == {
        "desiredCapacity": 2,
        "maxSize": 4,
        "minSize": 1,
        "recurrence": "0 8 * * 1-5",
        "scheduledActionName": "l4-spot-workday",
        "timeZone": "Europe/Berlin",
        **{k: v for k, v in actions["l4-spot-schedule-workday"].items() if k == "autoscalingGroupName"},
    }
    assert actions["l4-spot-schedule-night"]["desiredCapacity"] == 0


def test_ssm_parameters_are_secure_strings_with_secret_values(plan: Plan) -> None:
    parameters = plan.of_type("aws:ssm/parameter:Parameter")
    assert parameters
    for parameter in parameters:
        assert parameter.inputs["type"] == "SecureString", parameter.name
        assert parameter.inputs["value"] == "[secret]", parameter.name


def test_kubeconfig_is_a_secret_output(plan: Plan) -> None:
    assert plan.outputs["kubeconfig"] == "[secret]"
    assert plan.outputs["apiEndpoint"] == "https://203.0.113.10:6443"
    provider = next(r for r in plan.of_type("pulumi:providers:kubernetes"))
    assert provider.inputs["kubeconfig"] == "[secret]"


def test_plan_json_holds_no_secret_plaintext(plan: Plan, tmp_path: Path) -> None:
    # The plan's mocks give every private key and password a distinctive placeholder;
    # none may surface in a non-secret input or output.
    text = (artifacts.write(plan, tmp_path) / "plan.json").read_text()
    assert "BEGIN CERTIFICATE" in text  # public material is shown, so the check below can fail
    assert MOCK_SECRET_MARKER not in text
    assert "PRIVATE KEY" not in text
    for manifest in (tmp_path / "aws-dev" / "manifests").iterdir():
        assert MOCK_SECRET_MARKER not in manifest.read_text()


def test_model_runs_on_spot_and_falls_back_to_on_demand(plan: Plan) -> None:
    deployment = plan.of_type("kubernetes:apps/v1:Deployment")[0].inputs
    affinity = deployment["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
    required = affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert required == [
        {
            "matchExpressions": [
                {"key": "llmops.io/pool", "operator": "In", "values": ["l4-spot", "l4-on-demand"]}
            ]
        }
    ]
    weights = {
        term["preference"]["matchExpressions"][0]["values"][0]: term["weight"]
        for term in affinity["preferredDuringSchedulingIgnoredDuringExecution"]
    }
    assert weights == {"l4-spot": 100, "l4-on-demand": 50}


def test_termination_handler_release(plan: Plan) -> None:
    releases = [d for d in artifacts.manifests(plan).values() if d["kind"] == "HelmRelease"]
    (nth,) = [r for r in releases if r["chart"].endswith("/aws-node-termination-handler")]
    # Chart 0.27.1 is only published as an OCI artifact (the eks-charts index stops at 0.21.0).
    assert nth["chart"] == "oci://public.ecr.aws/aws-ec2/helm/aws-node-termination-handler"
    assert nth["repo"] == "oci://public.ecr.aws/aws-ec2/helm"
    assert nth["version"]
    assert nth["values"]["enableSpotInterruptionDraining"] is True


def test_preview_runs_with_unknowns(repo_root: Path) -> None:
    preview = run_plan(read_stack_file(repo_root / "stacks", "aws-dev"), "aws-dev", preview=True)
    assert preview.outputs["kubeconfig"] in ("[unknown]", "[secret]")
    assert len(preview.resources) > 50
    assert json.dumps(preview.to_json())


def test_observability_releases_rules_and_dashboards(plan: Plan) -> None:
    releases = {d["chart"]: d for d in artifacts.manifests(plan).values() if d["kind"] == "HelmRelease"}
    assert {"kube-prometheus-stack", "loki", "fluent-bit"} <= set(releases)
    assert all(r["version"] for r in releases.values())
    dashboards = [
        r
        for r in plan.of_type("kubernetes:core/v1:ConfigMap")
        if r.inputs["metadata"].get("labels", {}).get("grafana_dashboard")
    ]
    assert len(dashboards) == 3
    monitor = named(plan, "qwen2-5-0-5b-metrics")
    assert monitor.inputs["spec"]["endpoints"][0]["interval"] == "2s"
    assert monitor.inputs["spec"]["selector"]["matchLabels"] == {"llmops.io/model": "qwen2-5-0-5b"}


def test_demand_forecast_rule_is_the_replayed_policy_and_passes_promtool(plan: Plan, tmp_path: Path) -> None:
    import subprocess

    import yaml
    from llmops.components.capacity.promql import FORECAST_RECORD, PredictiveRule

    from tests.support.tools import require_tool

    (rule,) = [
        r
        for r in plan.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
        if r.name.endswith("-forecast")
    ]
    (group,) = rule.inputs["spec"]["groups"]
    forecast = next(r for r in group["rules"] if r["record"] == FORECAST_RECORD)
    from llmops.infra.model_store import startup_estimate_s

    # The model's estimated start-up (from the store, image pre-pulled) plus the demand window
    # (60 s): the look-ahead `llmops replay` uses.
    startup = startup_estimate_s(plan.config, plan.config.models[0])
    assert startup is not None and 10 < startup < 180
    expected = PredictiveRule(
        startup + 60, demand='llmops:replica_demand{model_name="qwen2.5-0.5b-instruct"}'
    ).expression()
    assert forecast["expr"] == expected
    rules_file = tmp_path / "forecast.rules.yaml"
    rules_file.write_text(yaml.safe_dump({"groups": [group]}))
    result = subprocess.run(
        [require_tool("promtool"), "check", "rules", str(rules_file)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_gpu_operator_with_its_dcgm_service_monitor(plan: Plan) -> None:
    release = named(plan, "gpu-release")
    assert release.inputs["chart"] == "gpu-operator"
    assert release.inputs["version"] == "v26.7.0"
    assert release.inputs["repositoryOpts"]["repo"] == "https://helm.ngc.nvidia.com/nvidia"
    values = release.inputs["values"]
    assert values["driver"]["enabled"] is False  # the DLAMI ships the driver
    assert values["cdi"] == {"enabled": True, "nriPluginEnabled": True}
    monitor = named(plan, "gpu-dcgm-service-monitor")
    assert monitor.inputs["spec"]["selector"] == {"matchLabels": {"app": "nvidia-dcgm-exporter"}}
    # the ServiceMonitor CRD comes with kube-prometheus-stack
    assert named(plan, "obs-kube-prometheus-stack").urn in monitor.depends_on


def test_gpu_pool_nodes_skip_the_operator_driver(plan: Plan) -> None:
    import base64

    for template in plan.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        user_data = base64.b64decode(template.inputs["userData"]).decode()
        assert "nvidia.com/gpu.deploy.driver=false" in user_data, template.name


def test_model_pods_wait_for_the_gpu_operator(plan: Plan) -> None:
    operator = named(plan, "gpu-release").urn
    for name in ("qwen2-5-0-5b", "qwen2-5-0-5b-deployment"):
        assert operator in named(plan, name).depends_on, name


def test_secret_manifest_keeps_its_keys_and_masks_the_values(plan: Plan) -> None:
    import kubernetes_validate

    (secret,) = [d for d in artifacts.manifests(plan).values() if d.get("kind") == "Secret"]
    assert secret["stringData"] == {"admin-password": "[secret]", "admin-user": "[secret]"}
    kubernetes_validate.validate(secret, "1.33.0", strict=True)
