"""`SpotInterruptionHandler`: AWS Node Termination Handler (IMDS mode) on the cluster's AWS GPU nodes.

A Kubernetes add-on, so it lives with the other releases; the AWS kit says its spot pools need it.
Its type token stays `llmops:aws:SpotInterruptionHandler` (docs/UPGRADE.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from llmops.components.addons.charts import AWS_NODE_TERMINATION_HANDLER, load_values
from llmops.components.k3s.render import GPU_TAINT, NodeTaint

CHART = AWS_NODE_TERMINATION_HANDLER
CHART_VERSION = CHART.version
"""Pinned chart release (application v1.25.1)."""


@dataclass(kw_only=True)
class SpotInterruptionHandlerArgs:
    """Inputs of `SpotInterruptionHandler`."""

    provider: k8s.Provider
    """Provider of the cluster, e.g. `K3sCluster.provider`."""
    namespace: str = "kube-system"
    """Namespace of the release; default: kube-system (the handler is node infrastructure)."""
    node_selector: Mapping[str, str] = field(
        default_factory=lambda: {"llmops.io/cloud": "aws", "nvidia.com/gpu.present": "true"}
    )
    """Nodes that run the handler; default: every AWS GPU agent (spot and on-demand: both get
    scheduled-maintenance events)."""
    tolerated_taints: Sequence[NodeTaint] = (GPU_TAINT,)
    """Taints the handler tolerates; default: the GPU taint every GPU pool carries."""
    chart_version: str = CHART_VERSION
    """Chart release; default: the pinned one."""


def handler_values(args: SpotInterruptionHandlerArgs) -> dict[str, Any]:
    """Chart values: the file next to this module plus placement. Pure (tested without Pulumi)."""
    values: dict[str, Any] = load_values(CHART)
    selector = dict(args.node_selector)
    tolerations = [
        {"key": taint.key, "operator": "Exists", "effect": taint.effect} for taint in args.tolerated_taints
    ]
    # Older chart releases read `nodeSelector`/`tolerations` for the DaemonSet, newer ones
    # `daemonset*`; both are set so a changed pin cannot silently drop the placement.
    values.update(
        {
            "nodeSelector": selector,
            "daemonsetNodeSelector": selector,
            "tolerations": tolerations,
            "daemonsetTolerations": tolerations,
        }
    )
    return values


class SpotInterruptionHandler(pulumi.ComponentResource):
    """Cordons and drains an AWS node on a spot interruption notice, rebalance recommendation or
    scheduled maintenance, so vLLM replicas move before the instance goes away."""

    release: k8s.helm.v3.Release

    def __init__(
        self, name: str, args: SpotInterruptionHandlerArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llmops:aws:SpotInterruptionHandler", name, None, opts)
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            # Derived from the instance name so two handlers in one stack cannot collide.
            name=f"{name}-nth",
            **{**CHART.release_source(), "version": args.chart_version},
            namespace=args.namespace,
            values=handler_values(args),
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider),
        )
        self.register_outputs({"releaseName": self.release.name})
