"""GCP through the generic layers: the GPU operator, KEDA, node autoscaling and placement of a
`cloud: gcp` stack, each decided by the kit rather than by a cloud name in the program."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from llmops.components.capacity import load_catalog
from llmops.components.cloud import Cloud, kit
from llmops.infra.cli import app
from llmops.infra.config import ConfigError, parse, split_namespace
from llmops.infra.placement import catalog_gpu_counts
from llmops.infra.plan import Plan, run_plan
from typer.testing import CliRunner


@pytest.fixture(scope="module")
def gcp_dev(repo_root: Path) -> dict[str, Any]:
    return yaml.safe_load((repo_root / "stacks" / "Pulumi.gcp-dev.yaml").read_text())["config"]


def _with(config: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(config)
    out.update(changes)
    return out


AUTOSCALING = {
    "minReplicas": 1,
    "maxReplicas": 3,
    "windows": [
        {
            "name": "workday",
            "days": "1-5",
            "start": "08:00",
            "end": "19:00",
            "timezone": "Europe/Berlin",
            "replicas": 2,
        }
    ],
}


@pytest.fixture(scope="module")
def autoscaled(gcp_dev: dict[str, Any]) -> Plan:
    models = copy.deepcopy(gcp_dev["llmops:models"])
    del models[0]["replicas"]
    models[0]["autoscaling"] = AUTOSCALING
    return run_plan(split_namespace("test", _with(gcp_dev, **{"llmops:models": models})), "gcp-dev")


def test_gpu_operator_installs_no_driver_on_the_deep_learning_vm_image(gcp_dev: dict[str, Any]) -> None:
    plan = run_plan(split_namespace("test", gcp_dev), "gcp-dev")
    assert kit(Cloud.GCP).image_ships_gpu_driver
    (release,) = [
        r for r in plan.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "gpu-operator"
    ]
    assert release.inputs["values"]["driver"]["enabled"] is False
    # DCGM metrics reach Prometheus as on every cloud.
    assert plan.of_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
    # The model waits for the operator (nvidia.com/gpu is advertised only after it).
    (model,) = plan.of_type("llmops:serving:VllmModel")
    assert release.urn in model.depends_on


def test_keda_scales_the_model_and_no_node_autoscaler_or_spot_handler_is_built(autoscaled: Plan) -> None:
    releases = {r.inputs["name"]: r.inputs for r in autoscaled.of_type("kubernetes:helm.sh/v3:Release")}
    assert "autoscaling-keda" in releases
    # The default leaves cluster-autoscaler out: gcp-dev's spot pool keeps its MIG scaling schedules.
    assert not [name for name, r in releases.items() if r["chart"] == "cluster-autoscaler"]
    # Preemption is handled on the node (graceful shutdown), so no handler DaemonSet.
    assert not [name for name, r in releases.items() if "termination" in r["chart"]]
    (scaled,) = autoscaled.of_type("kubernetes:keda.sh/v1alpha1:ScaledObject")
    spec = scaled.inputs["spec"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (1, 3)
    assert "window-workday" in [t["name"] for t in spec["triggers"]]


def test_node_autoscaling_asked_for_over_mig_schedules_is_a_key_path_error(gcp_dev: dict[str, Any]) -> None:
    # cluster-autoscaler runs on GCP (tests/components/gcp/test_autoscaler.py), but not over a pool
    # whose size the MIG autoscaler's scaling schedules hold.
    raw = split_namespace("test", _with(gcp_dev, **{"llmops:nodeAutoscaling": {"enabled": True}}))
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    assert "pools[0].schedules:" in str(caught.value)
    assert "cannot hold a pool that cluster-autoscaler resizes on GCP" in str(caught.value)
    assert "or set nodeAutoscaling.enabled: false" in str(caught.value)


def test_placement_reads_gcp_machines_from_the_catalog(gcp_dev: dict[str, Any]) -> None:
    config = parse(split_namespace("test", gcp_dev))
    for pool in config.pools:
        assert catalog_gpu_counts(pool) == {"g2-standard-8": 1}
    models = copy.deepcopy(gcp_dev["llmops:models"])
    models[0]["tensorParallelSize"] = 2
    with pytest.raises(ConfigError) as caught:
        parse(split_namespace("test", _with(gcp_dev, **{"llmops:models": models})))
    message = str(caught.value)
    assert "models[0]: 'qwen2-5-0-5b' cannot be placed on any pool it may run on" in message
    # The fix names G2 machines with two L4s or more, from the GCP rows of the catalog.
    assert "g2-standard-24" in message


def test_attached_gpu_machines_resolve_in_placement(gcp_dev: dict[str, Any]) -> None:
    pools = [
        {
            "name": "t4",
            "cloud": "gcp",
            "gpuType": "T4",
            "instanceTypes": ["n1-standard-16+T4x2"],
            "capacity": "on-demand",
            "max": 1,
        }
    ]
    models = [{**gcp_dev["llmops:models"][0], "pool": "t4", "gpuType": "T4", "tensorParallelSize": 2}]
    config = parse(
        split_namespace("test", _with(gcp_dev, **{"llmops:pools": pools, "llmops:models": models}))
    )
    assert catalog_gpu_counts(config.pools[0]) == {"n1-standard-16+T4x2": 2}


def test_the_kit_and_the_catalog_agree_on_every_gcp_machine() -> None:
    catalog = load_catalog()
    gcp = kit(Cloud.GCP)
    types = catalog.instance_types("gcp")
    assert "g2-standard-8" in types and "n1-standard-8+T4x1" in types
    for instance_type in types:
        machine = gcp.machine(instance_type)
        assert machine is not None, instance_type
        assert (machine.gpu, machine.gpu_count) == catalog.instance_gpu("gcp", instance_type), instance_type


def test_preflight_asked_for_on_gcp_reports_the_snapshot_zones(repo_root: Path, tmp_path: Path) -> None:
    assert not kit(Cloud.GCP).preflight_wanted({"GOOGLE_API_KEY": "k", "GOOGLE_APPLICATION_CREDENTIALS": "f"})
    result = CliRunner().invoke(
        app,
        [
            "plan",
            "--stack",
            "gcp-dev",
            "--preflight",
            "--out",
            str(tmp_path),
            "--project-dir",
            str(repo_root),
        ],
    )
    assert result.exit_code == 0, result.output
    checks = json.loads((tmp_path / "gcp-dev" / "plan.json").read_text())["preflight"]
    assert checks["cloud"] == "GCP" and checks["region"] == "us-central1"
    assert checks["offered_zones"]["g2-standard-8"] == ["us-central1-a", "us-central1-b", "us-central1-c"]
    assert checks["spot_usd_per_h"] == {}
    assert "no live GCP account check yet" in checks["problems"][0]


def test_provider_keys_are_named_as_the_stack_file_writes_them(gcp_dev: dict[str, Any]) -> None:
    unknown = _with(gcp_dev, **{"gcp:region": "us-central9"})
    with pytest.raises(ConfigError) as caught:
        parse(split_namespace("test", unknown))
    # One problem, at the provider key (no llmops: prefix), not repeated as "not sold" per pool.
    assert str(caught.value).splitlines()[1:] == [
        "  - gcp:region: 'us-central9' is not a GCP region. Fix: did you mean 'us-central1'?"
    ]
    missing = {k: v for k, v in gcp_dev.items() if k != "gcp:project"}
    with pytest.raises(ConfigError) as caught:
        parse(split_namespace("test", missing))
    assert (
        "  - gcp:project: is not set; GCP servers and pools need it. Fix: add gcp:project: my-project-id"
        in (str(caught.value).splitlines())
    )
