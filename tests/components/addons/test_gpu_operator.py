"""`GpuOperator` values: walked against the chart's own values.yaml, the ClusterPolicy part against the CRD.

The chart copies most sections of its values into the `ClusterPolicy` it creates
(templates/clusterpolicy.yaml); a key the CRD does not know is pruned by the API server,
so the setting silently does nothing. `cluster_policy_spec` below maps our values onto the
ClusterPolicy spec the way the template does for the keys we set, and every key path is
checked against the upstream v26.7.0 CRD's openAPIV3Schema (names and types).
"""

from __future__ import annotations

import functools
from typing import Any

import jsonschema
import pytest
import yaml
from llmops.components.addons.charts import GPU_OPERATOR, PINNED_CHARTS
from llmops.components.addons.gpu_operator import (
    DCGM_EXPORTER_APP,
    ContainerRuntimeMode,
    GpuOperatorArgs,
    MigStrategy,
    TimeSlicing,
    dcgm_service_monitor,
    gpu_operator_values,
)
from llmops.components.k3s.render import GPU_TAINT, NodeTaint

from tests.components.observability.test_helm_values import chart_defaults, walk
from tests.conftest import require_shared

# path -> why its contents are not in the chart's values.yaml
EXCEPTIONS = {
    "devicePlugin.config.data.any": "entry of the device plugin's free-form config map (default {})",
}

# Our values that the chart uses itself and does not copy into the ClusterPolicy.
CHART_ONLY = {
    "nfd",
    "node-feature-discovery",
    "operator.tolerations",
    "operator.upgradeCRD",
    "devicePlugin.config.create",
    "devicePlugin.config.data",
}


def every_branch() -> list[tuple[str, GpuOperatorArgs]]:
    """Args that switch every optional branch of the values on, one case each."""
    return [
        ("defaults", GpuOperatorArgs()),
        (
            "driver-off-k3s-paths",
            GpuOperatorArgs(install_driver=False, runtime_mode=ContainerRuntimeMode.K3S_CONTAINERD),
        ),
        ("time-slicing", GpuOperatorArgs(time_slicing=TimeSlicing(replicas=4, rename_shared=True))),
        ("mig-mixed", GpuOperatorArgs(mig_strategy=MigStrategy.MIXED)),
        ("plain-containerd", GpuOperatorArgs(runtime_mode=ContainerRuntimeMode.CONTAINERD)),
    ]


CASES = every_branch()


@functools.cache
def crd_spec_schema() -> dict[str, Any]:
    path = require_shared(
        "reference/crd-schemas/upstream-crds/gpu-operator-v26.7.0/nvidia.com_clusterpolicies.yaml"
    )
    crd = yaml.safe_load(path.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return version["schema"]["openAPIV3Schema"]["properties"]["spec"]


def cluster_policy_spec(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Our values as the chart's template passes them into ClusterPolicy.spec (chart-only keys dropped)."""
    spec: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if path in CHART_ONLY:
            continue
        spec[key] = cluster_policy_spec(value, f"{path}.") if isinstance(value, dict) else value
    return spec


def unknown_to_schema(ours: Any, schema: dict[str, Any], path: str) -> list[str]:
    """Key paths we set that the CRD schema does not declare (the API server would prune them)."""
    if not isinstance(ours, dict):
        if isinstance(ours, list) and "items" in schema:
            return [
                p
                for i, item in enumerate(ours)
                for p in unknown_to_schema(item, schema["items"], f"{path}[{i}]")
            ]
        return []
    properties = schema.get("properties")
    if properties is None:  # free-form map (additionalProperties) or x-kubernetes-preserve-unknown-fields
        return []
    problems = []
    for key, value in ours.items():
        if key not in properties:
            problems.append(f"{path}.{key}: not a ClusterPolicy field (value {value!r})")
        else:
            problems += unknown_to_schema(value, properties[key], f"{path}.{key}")
    return problems


@pytest.mark.parametrize(("case", "args"), CASES, ids=[c for c, _ in CASES])
def test_every_value_we_set_exists_in_the_chart(case: str, args: GpuOperatorArgs) -> None:
    problems, used = walk(gpu_operator_values(args, "gpu"), chart_defaults(GPU_OPERATOR), EXCEPTIONS)
    assert not problems, f"{case}:\n" + "\n".join(problems)
    if case == "time-slicing":
        assert used == set(EXCEPTIONS), "EXCEPTIONS lists a path we no longer set"


@pytest.mark.parametrize(("case", "args"), CASES, ids=[c for c, _ in CASES])
def test_cluster_policy_part_matches_the_crd(case: str, args: GpuOperatorArgs) -> None:
    schema = crd_spec_schema()
    spec = cluster_policy_spec(gpu_operator_values(args, "gpu"))
    # Only sections the ClusterPolicy has; the rest must be in CHART_ONLY (checked here too).
    stray = sorted(set(spec) - set(schema["properties"]))
    assert not stray, f"{case}: sections neither in the ClusterPolicy nor in CHART_ONLY: {stray}"
    problems = unknown_to_schema(spec, schema, "spec")
    for section, value in spec.items():
        validator = jsonschema.Draft7Validator(schema["properties"][section])
        problems += [
            f"spec.{section}.{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(value)
        ]
    assert not problems, f"{case}:\n" + "\n".join(problems)


def test_crd_check_rejects_a_misspelled_field_and_a_bad_enum() -> None:
    schema = crd_spec_schema()
    assert unknown_to_schema({"cdi": {"nriPluginEnable": True}}, schema, "spec") == [
        "spec.cdi.nriPluginEnable: not a ClusterPolicy field (value True)"
    ]
    assert list(jsonschema.Draft7Validator(schema["properties"]["mig"]).iter_errors({"strategy": "some"}))


def test_k3s_default_is_nri_mode_with_no_containerd_edits() -> None:
    values = gpu_operator_values(GpuOperatorArgs(), "gpu")
    assert values["cdi"] == {"enabled": True, "nriPluginEnabled": True}
    assert "env" not in values.get("toolkit", {})


def test_k3s_containerd_mode_points_the_toolkit_at_k3s_paths() -> None:
    values = gpu_operator_values(GpuOperatorArgs(runtime_mode=ContainerRuntimeMode.K3S_CONTAINERD), "gpu")
    assert values["cdi"]["nriPluginEnabled"] is False
    assert values["toolkit"]["env"] == [
        {"name": "CONTAINERD_CONFIG", "value": "/var/lib/rancher/k3s/agent/etc/containerd/config.toml"},
        {"name": "CONTAINERD_SOCKET", "value": "/run/k3s/containerd/containerd.sock"},
    ]


def test_driver_follows_the_args() -> None:
    assert gpu_operator_values(GpuOperatorArgs(install_driver=False), "gpu")["driver"]["enabled"] is False
    assert gpu_operator_values(GpuOperatorArgs(), "gpu")["driver"]["enabled"] is True


def test_operands_tolerate_the_gpu_taints_and_the_operator_does_not() -> None:
    extra = NodeTaint("llmops.io/dedicated", "inference", "NoExecute")
    values = gpu_operator_values(GpuOperatorArgs(gpu_taints=(GPU_TAINT, extra)), "gpu")
    gpu_keys = {"nvidia.com/gpu", "llmops.io/dedicated"}
    assert {t["key"] for t in values["daemonsets"]["tolerations"]} == gpu_keys
    assert gpu_keys <= {t["key"] for t in values["node-feature-discovery"]["worker"]["tolerations"]}
    for placed in (
        values["operator"],
        values["node-feature-discovery"].get("master", {}),
        values["node-feature-discovery"].get("gc", {}),
    ):
        assert not gpu_keys & {t["key"] for t in placed.get("tolerations", [])}


def test_sharing_is_off_by_default() -> None:
    values = gpu_operator_values(GpuOperatorArgs(), "gpu")
    assert values["migManager"]["enabled"] is False
    assert values["mig"]["strategy"] == "none"
    assert "config" not in values["devicePlugin"]  # the chart default: no sharing config


def test_time_slicing_writes_a_device_plugin_config() -> None:
    values = gpu_operator_values(GpuOperatorArgs(time_slicing=TimeSlicing(replicas=3)), "gpu")
    config = values["devicePlugin"]["config"]
    assert config["create"] is True and config["default"] == "any"
    assert config["name"] == "gpu-gpu-operator-time-slicing"
    parsed = yaml.safe_load(config["data"]["any"])
    assert parsed["sharing"]["timeSlicing"]["resources"] == [{"name": "nvidia.com/gpu", "replicas": 3}]


def test_bad_args_are_reported_together() -> None:
    args = GpuOperatorArgs(
        namespace="GPU",
        scrape_interval="15 s",
        time_slicing=TimeSlicing(replicas=1),
        mig_strategy=MigStrategy.SINGLE,
    )
    assert args.validate("Bad_Name") == [
        "name: 'Bad_Name' must be lowercase letters, digits and '-', at most 40 characters (the Helm release "
        "name derives from it); use e.g. 'gpu'",
        "namespace: 'GPU' is not a Kubernetes namespace name; use e.g. 'gpu-operator'",
        "scrape_interval: '15 s' is not a Prometheus duration; use e.g. '15s'",
        "time_slicing.replicas: 1 shares nothing; use 2 or more, or leave time_slicing unset",
        "time_slicing: set together with mig_strategy 'single'; use one way of sharing GPUs",
    ]


def test_dcgm_exporter_keeps_the_operator_metrics_list() -> None:
    """The rules' metric names are checked against the CSV the operator's exporter loads by default
    (tests/components/observability/test_metric_names.py); a custom list here would void that check."""
    for _, args in CASES:
        exporter = gpu_operator_values(args, "gpu")["dcgmExporter"]
        assert "config" not in exporter or not exporter["config"].get("name")
        assert not any(e.get("name") == "DCGM_EXPORTER_COLLECTORS" for e in exporter.get("env", []))
        assert exporter["enabled"] is True
        assert exporter["serviceMonitor"]["enabled"] is False  # ours replaces it


def test_service_monitor_passes_the_crd_schema_and_selects_the_exporter() -> None:
    schema = yaml.safe_load(
        require_shared("reference/crd-schemas/monitoring.coreos.com/servicemonitor_v1.json").read_text()
    )
    monitor = dcgm_service_monitor("gpu", "gpu-operator", "15s")
    errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(monitor)]
    assert not errors, errors
    assert monitor["spec"]["selector"] == {"matchLabels": {"app": DCGM_EXPORTER_APP}}
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["gpu-operator"]}
    assert monitor["spec"]["endpoints"][0]["port"] == "gpu-metrics"


def test_gpu_operator_is_pinned_with_the_others() -> None:
    assert GPU_OPERATOR in PINNED_CHARTS
    assert GPU_OPERATOR.repo == "https://helm.ngc.nvidia.com/nvidia" and GPU_OPERATOR.version == "v26.7.0"
