"""`ClusterAutoscaler`: adds GPU nodes when model pods cannot be scheduled, removes idle ones.

Cloud-neutral in shape: the chart values come from a list of node groups (one per pool, with
its priority) and the cluster's name; each kit supplies what its cloud needs beside it. AWS (the
values file's default): discovery and node-template tags on each Auto Scaling group and the IAM
policy on the role the autoscaler runs under (components/aws/autoscaler.py). GCP: zonal MIGs found
by name prefix, through `provider_values` (components/gcp/autoscaler.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from llmops.components.addons.charts import CLUSTER_AUTOSCALER, deep_merge, load_values
from llmops.components.k3s.render import SERVER_TAINT, NodeTaint

CHART = CLUSTER_AUTOSCALER

# Expander priorities by capacity: the autoscaler grows the highest-priority group that can
# hold the pending pods, so spot is tried first and its on-demand fallback after.
CAPACITY_PRIORITY = {"spot": 30, "mixed": 20, "on-demand": 10}
DEFAULT_IDLE_S = 600
"""The autoscaler's own default scale-down-unneeded-time (10 minutes)."""


@dataclass(frozen=True)
class NodeGroup:
    """One pool as the autoscaler sees it."""

    pool: str
    capacity: str
    """spot, mixed or on-demand."""
    group_name_pattern: str
    """Regular expression matching the pool's group name in the cloud (an ASG name on AWS)."""
    fallback_pool: str | None = None
    """Pool that takes over when this one has no capacity; always gets a lower priority."""


def expander_priorities(groups: Sequence[NodeGroup]) -> dict[str, list[str]]:
    """The priority expander's table, {priority: [group name patterns]}: spot over mixed over
    on-demand, and every pool above its own fallback whatever their capacities."""
    priority = {g.pool: CAPACITY_PRIORITY.get(g.capacity, 10) for g in groups}
    by_pool = {g.pool: g for g in groups}
    # Each pass lowers a fallback below its primary; chains settle within len(groups) passes.
    for _ in range(len(groups)):
        changed = False
        for group in groups:
            fallback = group.fallback_pool
            if fallback in by_pool and priority[fallback] >= priority[group.pool]:
                priority[fallback] = priority[group.pool] - 1
                changed = True
        if not changed:
            break
    table: dict[str, list[str]] = {}
    for group in groups:
        table.setdefault(str(max(1, priority[group.pool])), []).append(group.group_name_pattern)
    return dict(sorted(table.items(), key=lambda item: -int(item[0])))


def name_pattern(prefix: str) -> str:
    """A pattern matching the names Pulumi gives a resource named `prefix` (prefix + '-' + hex)."""
    return f"^{re.escape(prefix)}-[0-9a-f]+$"


def duration(seconds: int) -> str:
    """A Go duration the autoscaler's flags take ('600s')."""
    return f"{seconds}s"


@dataclass(kw_only=True)
class ClusterAutoscalerArgs:
    """Inputs of `ClusterAutoscaler`."""

    provider: k8s.Provider
    """Provider of the cluster."""
    cluster_name: str
    """Name in the discovery tag k8s.io/cluster-autoscaler/<cluster_name> of the cluster's groups."""
    region: str
    """Cloud region of the groups (AWS_REGION of the autoscaler)."""
    node_groups: Sequence[NodeGroup]
    """Every pool the autoscaler may resize, for the priority expander."""
    idle_s: int = DEFAULT_IDLE_S
    """How long a GPU node must be unneeded before it is removed; default: 10 minutes. A
    longer time keeps a warm node for the next burst, a shorter one saves GPU-hours."""
    namespace: str = "kube-system"
    """Namespace of the release; the priority ConfigMap is looked up there."""
    node_selector: Mapping[str, str] = field(
        default_factory=lambda: {"node-role.kubernetes.io/control-plane": "true"}
    )
    """Nodes the autoscaler runs on; default: the K3s servers, whose role holds its policy."""
    tolerated_taints: Sequence[NodeTaint] = (SERVER_TAINT,)
    """Taints it tolerates; default: the servers' soft control-plane taint."""
    chart_version: str = CHART.version
    """Chart release; default: the pinned one."""
    cloud_values: Mapping[str, Any] = field(default_factory=dict)
    """Values a cloud kit adds last (provider, credentials, discovery); default: none, the values
    file's AWS provider. Another `cloudProvider` drops the AWS tag discovery and `awsRegion`."""


def validate_args(args: ClusterAutoscalerArgs) -> list[str]:
    problems = []
    if args.idle_s < 60:
        problems.append(
            f"idle_s: {args.idle_s} is under a minute; a node would go before it has served a burst. "
            "Fix: use 60 or more (default 600)"
        )
    if not args.node_groups:
        problems.append("node_groups: is empty; there is nothing to scale. Fix: list the cluster's pools")
    return problems


def cluster_autoscaler_values(args: ClusterAutoscalerArgs) -> dict[str, Any]:
    """Chart values: the file beside this module plus cluster, region, priorities and idle time."""
    tolerations = [
        {"key": taint.key, "operator": "Exists", "effect": taint.effect} for taint in args.tolerated_taints
    ]
    merged = deep_merge(
        load_values(CHART),
        {
            "autoDiscovery": {"clusterName": args.cluster_name},
            "awsRegion": args.region,
            "expanderPriorities": expander_priorities(args.node_groups),
            "extraArgs": {"scale-down-unneeded-time": duration(args.idle_s)},
            "nodeSelector": dict(args.node_selector),
            "tolerations": tolerations,
        },
    )
    if args.cloud_values.get("cloudProvider", "aws") != "aws":
        # Another provider: the AWS keys go, the cluster name stays (the chart renders nothing without it).
        del merged["awsRegion"]
        merged["autoDiscovery"] = {k: v for k, v in merged["autoDiscovery"].items() if k != "tags"}
    return _overlay(merged, args.cloud_values)


def _overlay(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`deep_merge` without copying the override's leaves, which may be Pulumi outputs."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            merged[key] = _overlay(current, value)
        else:
            merged[key] = value
    return merged


class ClusterAutoscalerArgsError(ValueError):
    """Invalid ClusterAutoscalerArgs; lists every problem."""


class ClusterAutoscaler(pulumi.ComponentResource):
    """cluster-autoscaler from its pinned chart, discovering the cluster's node groups by tag."""

    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: ClusterAutoscalerArgs, opts: pulumi.ResourceOptions | None = None):
        problems = validate_args(args)
        if problems:
            raise ClusterAutoscalerArgsError(
                f"ClusterAutoscaler {name!r}: invalid arguments:\n  - " + "\n  - ".join(problems)
            )
        super().__init__("llmops:addons:ClusterAutoscaler", name, None, opts)
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=f"{name}-ca",
            **{**CHART.release_source(), "version": args.chart_version},
            namespace=args.namespace,
            values=cluster_autoscaler_values(args),
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider),
        )
        self.register_outputs({"releaseName": self.release.name})
