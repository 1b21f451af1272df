"""`Keda`: the KEDA operator and metrics API server, which turn each model's ScaledObject into an HPA."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from llmops.components.addons.charts import KEDA, deep_merge, load_values

CHART = KEDA


DEFAULT_NAMESPACE = "keda"
"""KEDA's documented namespace."""


@dataclass(kw_only=True)
class KedaArgs:
    """Inputs of `Keda`."""

    provider: k8s.Provider
    """Provider of the cluster the ScaledObjects live in."""
    namespace: str = DEFAULT_NAMESPACE
    """Namespace of the release (created with it); default: keda, KEDA's documented namespace."""
    node_selector: Mapping[str, str] = field(default_factory=dict)
    """Nodes that run KEDA's three pods; default: any node without a taint they do not tolerate
    (GPU nodes are tainted, so CPU nodes and the K3s servers)."""
    chart_version: str = CHART.version
    """Chart release; default: the pinned one."""


def keda_values(args: KedaArgs) -> dict[str, Any]:
    """Chart values: the file beside this module plus placement. Pure (tested without Pulumi)."""
    values = load_values(CHART)
    if args.node_selector:
        values = deep_merge(values, {"nodeSelector": dict(args.node_selector)})
    return values


class Keda(pulumi.ComponentResource):
    """KEDA from its pinned chart; ScaledObjects must depend on `release` (it installs their CRD)."""

    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: KedaArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llmops:addons:Keda", name, None, opts)
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            # Derived from the instance name so two instances in one stack cannot collide.
            name=f"{name}-keda",
            **{**CHART.release_source(), "version": args.chart_version},
            namespace=args.namespace,
            create_namespace=True,
            values=keda_values(args),
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider),
        )
        self.register_outputs({"releaseName": self.release.name})
