"""The NVIDIA driver path per Azure size: the GRID-only NVadsA10_v5 sizes get the NVIDIA GPU Driver
Extension and tell the GPU operator to leave their driver alone; every other size gets neither."""

from __future__ import annotations

import pytest
import yaml
from llmops.components.azure.drivers import DRIVER_DEPLOY_LABEL, DriverSource, driver_labels, driver_source
from llmops.components.azure.machines import gpu_machines
from llmops.components.k3s.render import K3S_CONFIG_PATH
from llmops.infra.config.loading import split_namespace
from llmops.infra.plan import Plan, PlannedResource, run_plan

from tests.components.azure.test_model_store import AZURE_CLUSTER
from tests.infra.test_plan_azure_dev import cloud_config

A10_POOL = (
    "    - {name: a10, cloud: azure, gpuType: A10, instanceTypes: [Standard_NV36ads_A10_v5], "
    "capacity: on-demand, min: 0, max: 1}\n"
)


def test_every_supported_size_has_one_driver_path() -> None:
    sources = {size: driver_source(size) for size in gpu_machines()}
    assert {s for s, src in sources.items() if src is DriverSource.GRID_EXTENSION} == {
        "Standard_NV36ads_A10_v5"
    }
    assert sources["Standard_NC4as_T4_v3"] is DriverSource.GPU_OPERATOR
    assert driver_labels("Standard_NV36ads_A10_v5") == {DRIVER_DEPLOY_LABEL: "false"}
    assert driver_labels("Standard_NC24ads_A100_v4") == {}


@pytest.fixture(scope="module")
def plan() -> Plan:
    document = yaml.safe_load("config:\n" + AZURE_CLUSTER + A10_POOL)
    return run_plan(split_namespace("Pulumi.azure-a10.yaml", document["config"]), "azure-a10")


def _pool(plan: Plan, name: str) -> tuple[PlannedResource, dict[str, str]]:
    (scale_set,) = [r for r in plan.resources if r.name == f"{name}-vmss"]
    _, document = cloud_config(scale_set)
    (k3s,) = [f for f in document["write_files"] if f["path"] == K3S_CONFIG_PATH]
    labels = dict(label.split("=", 1) for label in yaml.safe_load(k3s["content"])["node-label"])
    return scale_set, labels


def test_a10_scale_set_runs_the_driver_extension_and_the_operator_skips_its_nodes(plan: Plan) -> None:
    scale_set, labels = _pool(plan, "a10")
    (extension,) = scale_set.inputs["virtualMachineProfile"]["extensionProfile"]["extensions"]
    assert (extension["publisher"], extension["type"]) == ("Microsoft.HpcCompute", "NvidiaGpuDriverLinux")
    assert extension["autoUpgradeMinorVersion"] is True
    assert labels[DRIVER_DEPLOY_LABEL] == "false"
    # The autoscaler's template of an empty A10 scale set says the same.
    tags = scale_set.inputs["tags"]
    assert tags["k8s.io_cluster-autoscaler_node-template_label_nvidia.com_gpu.deploy.driver"] == "false"


def test_t4_scale_set_takes_the_operators_driver(plan: Plan) -> None:
    scale_set, labels = _pool(plan, "t4")
    assert "extensionProfile" not in scale_set.inputs["virtualMachineProfile"]
    assert DRIVER_DEPLOY_LABEL not in labels
    # The operator still installs its driver for the T4 nodes.
    (release,) = [r for r in plan.resources if r.name == "gpu-release"]
    assert release.inputs["values"]["driver"]["enabled"] is True
