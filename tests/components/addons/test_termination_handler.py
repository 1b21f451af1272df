"""`SpotInterruptionHandler`: the pinned NTH chart in IMDS mode, placed on the GPU nodes."""

from __future__ import annotations

import re

import pytest
from llmops.components.addons.charts import load_values
from llmops.components.addons.termination_handler import (
    CHART,
    CHART_VERSION,
    SpotInterruptionHandlerArgs,
    handler_values,
)

from tests.components.aws.stack import build_aws_dev
from tests.components.k3s.mocks import Recorded, RecordingMocks, run_program


@pytest.fixture(scope="module")
def release() -> tuple[RecordingMocks, Recorded]:
    mocks, _ = run_program(lambda: build_aws_dev()["outputs"])
    return mocks, mocks.named("aws-dev-spot-release")


def test_chart_is_pinned_from_public_ecr_as_an_oci_artifact(release) -> None:
    # 0.27.1 is published only as an OCI artifact; the eks-charts https index stops at 0.21.0.
    _, recorded = release
    assert recorded.type == "kubernetes:helm.sh/v3:Release"
    assert recorded.inputs["chart"] == "oci://public.ecr.aws/aws-ec2/helm/aws-node-termination-handler"
    assert recorded.inputs["version"] == CHART_VERSION == CHART.version
    assert re.fullmatch(r"\d+\.\d+\.\d+", CHART_VERSION)
    assert "repositoryOpts" not in recorded.inputs
    assert recorded.inputs["name"] == "aws-dev-spot-nth"  # derived from the instance name
    assert recorded.inputs["namespace"] == "kube-system"


def test_release_goes_to_the_cluster_through_its_provider(release) -> None:
    _, recorded = release
    assert recorded.provider is not None and "aws-dev-provider" in recorded.provider


def test_imds_mode_drains_on_interruption_and_rebalance(release) -> None:
    _, recorded = release
    values = recorded.inputs["values"]
    assert values["enableSqsTerminationDraining"] is False
    assert values["enableSpotInterruptionDraining"] is True
    assert values["enableRebalanceMonitoring"] is True
    assert values["enableRebalanceDraining"] is True
    assert values["useHostNetwork"] is True  # IMDS hop limit 1 on the nodes


def test_runs_on_aws_gpu_nodes_and_tolerates_the_gpu_taint(release) -> None:
    _, recorded = release
    values = recorded.inputs["values"]
    expected = {"llmops.io/cloud": "aws", "nvidia.com/gpu.present": "true"}
    assert values["nodeSelector"] == values["daemonsetNodeSelector"] == expected
    assert (
        values["tolerations"]
        == values["daemonsetTolerations"]
        == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    )


def test_values_file_is_the_base() -> None:
    base = load_values(CHART)
    values = handler_values(SpotInterruptionHandlerArgs(provider=None))  # type: ignore[arg-type]
    assert {k: values[k] for k in base} == base
