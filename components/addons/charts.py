"""The one pin type for Helm charts, and every chart the package installs.

Pure Python (no Pulumi): tests read the pins and values files without an engine. The
repository of each pin is where that chart version is published upstream (https index
or OCI registry); `docs/decisions/` records the evidence for each.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

# Values files are resolved relative to this package root (the `components` package).
_PACKAGE_ROOT = __name__.rsplit(".", 2)[0]


@dataclass(frozen=True)
class Chart:
    """A Helm chart pinned to one version, with the values file we give it."""

    name: str
    """Chart name as published."""
    version: str
    """Chart version (NVIDIA's keep their leading `v`)."""
    repo: str
    """`https://...` index URL, or `oci://registry/path` (the chart name is appended)."""
    values_file: str
    """Static values, relative to the components package (`observability/values/loki.yaml`)."""

    @property
    def is_oci(self) -> bool:
        return self.repo.startswith("oci://")

    @property
    def chart_ref(self) -> str:
        """What `helm template`/`helm install` takes as the chart: `oci://.../name` or `name`."""
        return f"{self.repo.rstrip('/')}/{self.name}" if self.is_oci else self.name

    def release_source(self) -> dict[str, Any]:
        """The chart, version and repository arguments of a `kubernetes.helm.v3.Release`.

        OCI charts are addressed by their full reference and take no repository options;
        https charts are a name plus the repository URL.
        """
        import pulumi_kubernetes as k8s

        if self.is_oci:
            return {"chart": self.chart_ref, "version": self.version}
        return {
            "chart": self.name,
            "version": self.version,
            "repository_opts": k8s.helm.v3.RepositoryOptsArgs(repo=self.repo),
        }


KUBE_PROMETHEUS_STACK = Chart(
    name="kube-prometheus-stack",
    version="88.5.3",
    repo="https://prometheus-community.github.io/helm-charts",
    values_file="observability/values/kube-prometheus-stack.yaml",
)
# The OSS Loki chart moved to grafana-community in 2026; grafana/loki's chart now targets GEL.
LOKI = Chart(
    name="loki",
    version="18.11.0",
    repo="https://grafana-community.github.io/helm-charts",
    values_file="observability/values/loki.yaml",
)
FLUENT_BIT = Chart(
    name="fluent-bit",
    version="0.58.1",
    repo="https://fluent.github.io/helm-charts",
    values_file="observability/values/fluent-bit.yaml",
)
DEEPFLOW = Chart(
    name="deepflow",
    version="7.1.002",
    repo="https://deepflowio.github.io/deepflow",
    values_file="observability/values/deepflow.yaml",
)
# Chart 0.27.1 (application v1.25.1) is published only to Public ECR as an OCI artifact;
# the old eks-charts https index stops at 0.21.0.
AWS_NODE_TERMINATION_HANDLER = Chart(
    name="aws-node-termination-handler",
    version="0.27.1",
    repo="oci://public.ecr.aws/aws-ec2/helm",
    values_file="addons/values/aws-node-termination-handler.yaml",
)

# --- GPU enablement -----------------------------------------------------------------
# NVIDIA publishes the operator chart to its NGC Helm repository (https index); chart
# versions keep the leading `v` of the operator release.
GPU_OPERATOR = Chart(
    name="gpu-operator",
    version="v26.7.0",
    repo="https://helm.ngc.nvidia.com/nvidia",
    values_file="addons/values/gpu-operator.yaml",
)
GPU_CHARTS: tuple[Chart, ...] = (GPU_OPERATOR,)
# -------------------------------------------------------------------------------------
# Autoscaling: KEDA for replicas (application 2.20.2), cluster-autoscaler for GPU nodes
# (chart 9.59.0, application v1.35.0).
KEDA = Chart(
    name="keda",
    version="2.20.2",
    repo="https://kedacore.github.io/charts",
    values_file="addons/values/keda.yaml",
)
CLUSTER_AUTOSCALER = Chart(
    name="cluster-autoscaler",
    version="9.59.0",
    repo="https://kubernetes.github.io/autoscaler",
    values_file="addons/values/cluster-autoscaler.yaml",
)
# --- Model store ---------------------------------------------------------------------
# The EFS driver for the AWS store, the NFS driver for a stack's own NFS export.
AWS_EFS_CSI_DRIVER = Chart(
    name="aws-efs-csi-driver",
    version="4.4.1",
    repo="https://kubernetes-sigs.github.io/aws-efs-csi-driver",
    values_file="addons/values/aws-efs-csi-driver.yaml",
)
CSI_DRIVER_NFS = Chart(
    name="csi-driver-nfs",
    version="4.13.4",
    repo="https://raw.githubusercontent.com/kubernetes-csi/csi-driver-nfs/master/charts",
    values_file="addons/values/csi-driver-nfs.yaml",
)
# The Azure Files driver for the Azure store (NFS with encryption in transit through aznfs).
AZUREFILE_CSI_DRIVER = Chart(
    name="azurefile-csi-driver",
    version="1.35.7",
    repo="https://raw.githubusercontent.com/kubernetes-sigs/azurefile-csi-driver/master/charts",
    values_file="addons/values/azurefile-csi-driver.yaml",
)
STORE_CHARTS: tuple[Chart, ...] = (AWS_EFS_CSI_DRIVER, CSI_DRIVER_NFS, AZUREFILE_CSI_DRIVER)
# -------------------------------------------------------------------------------------

PINNED_CHARTS: tuple[Chart, ...] = (
    KUBE_PROMETHEUS_STACK,
    LOKI,
    FLUENT_BIT,
    DEEPFLOW,
    AWS_NODE_TERMINATION_HANDLER,
    *GPU_CHARTS,
    KEDA,
    CLUSTER_AUTOSCALER,
    *STORE_CHARTS,
)
"""Every chart the package can install; add a new pin here (a test checks each one's repository)."""


def load_values(chart: Chart) -> dict[str, Any]:
    """The static values file of `chart`, shipped inside the package."""
    text = resources.files(_PACKAGE_ROOT).joinpath(chart.values_file).read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{chart.values_file}: top level must be a mapping, got {type(data).__name__}")
    return data


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's merge: mappings merge key by key, anything else (lists included) is replaced."""
    merged: dict[str, Any] = copy.deepcopy(dict(base))
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
