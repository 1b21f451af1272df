"""The two kube-scheduler score plugins that place a model's replica among free nodes.

Written from the behaviour of kube-scheduler's NodeAffinity and PodTopologySpread score plugins
(kubernetes/kubernetes pkg/scheduler/framework/plugins/{nodeaffinity,podtopologyspread}, v1.33)
and the default profile's plugin weights (NodeAffinity 2, PodTopologySpread 2; docs: "Scheduler
Configuration", kubernetes.io). The other default score plugins give identical free GPU nodes the
same score and are left out. It reads the pod spec the component renders, so a change to the
weights or constraints changes what these tests see.

PodTopologySpread (soft constraints): a candidate node missing any constraint's key is ignored and
scores 0; the others score sum(count x ln(domains + 2) + maxSkew - 1), rounded, where domains is
the number of values among the non-ignored candidates (for the hostname key: their number) and
count is the model's pods in the node's domain over every node the constraint includes
(nodeAffinityPolicy Honor: nodes matching the required affinity). Normalised as
100 x (max + min - score) // max (100 each when max is 0). NodeAffinity: the sum of the weights of
the preferred terms a node matches, normalised to 100 x score // max.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

AFFINITY_PLUGIN_WEIGHT = 2
SPREAD_PLUGIN_WEIGHT = 2
HOSTNAME = "kubernetes.io/hostname"


@dataclass(frozen=True)
class Node:
    name: str
    labels: Mapping[str, str]
    pods: int = 0
    """Replicas of the model already on the node."""
    free: bool = True
    """Has room for one more replica (passes the filters)."""
    all_labels: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "all_labels", {**self.labels, HOSTNAME: self.name})


def _matches(term: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    for expression in term.get("matchExpressions", []):
        if expression["operator"] != "In" or labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def _required(pod: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    node_affinity = (pod.get("affinity") or {}).get("nodeAffinity") or {}
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if not required:
        return True
    return any(_matches(term, labels) for term in required["nodeSelectorTerms"])


def scores(pod: Mapping[str, Any], nodes: Sequence[Node]) -> dict[str, int]:
    """Each free node's weighted total of the two plugins for one more replica of the pod."""
    candidates = [n for n in nodes if n.free and _required(pod, n.all_labels)]
    preferred = ((pod.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "preferredDuringSchedulingIgnoredDuringExecution"
    ) or []
    raw_affinity = {
        n.name: sum(t["weight"] for t in preferred if _matches(t["preference"], n.all_labels))
        for n in candidates
    }
    top = max(raw_affinity.values(), default=0)
    affinity = {k: (100 * v // top if top else 0) for k, v in raw_affinity.items()}

    constraints = [
        c for c in pod.get("topologySpreadConstraints") or [] if c["whenUnsatisfiable"] == "ScheduleAnyway"
    ]
    keys = [c["topologyKey"] for c in constraints]
    ignored = {n.name for n in candidates if any(k not in n.all_labels for k in keys)}
    scored = [n for n in candidates if n.name not in ignored]
    weights = []
    for key in keys:
        size = len(scored) if key == HOSTNAME else len({n.all_labels[key] for n in scored})
        weights.append(math.log(size + 2))
    counted = [n for n in nodes if _required(pod, n.all_labels) and all(k in n.all_labels for k in keys)]
    raw_spread: dict[str, int] = {}
    for node in scored:
        total = 0.0
        for constraint, weight in zip(constraints, weights, strict=True):
            key = constraint["topologyKey"]
            if key == HOSTNAME:
                count = node.pods
            else:
                count = sum(n.pods for n in counted if n.all_labels[key] == node.all_labels[key])
            total += count * weight + constraint["maxSkew"] - 1
        raw_spread[node.name] = round(total)
    spread: dict[str, int] = {}
    if constraints:
        high = max(raw_spread.values(), default=0)
        low = min(raw_spread.values(), default=0)
        for node in candidates:
            if node.name in ignored:
                spread[node.name] = 0
            elif high == 0:
                spread[node.name] = 100
            else:
                spread[node.name] = 100 * (high + low - raw_spread[node.name]) // high
    return {
        n.name: AFFINITY_PLUGIN_WEIGHT * affinity[n.name] + SPREAD_PLUGIN_WEIGHT * spread.get(n.name, 0)
        for n in candidates
    }


def best(pod: Mapping[str, Any], nodes: Sequence[Node]) -> set[str]:
    """The free nodes the scheduler may pick (it picks at random among equal best scores)."""
    totals = scores(pod, nodes)
    if not totals:
        return set()
    top = max(totals.values())
    return {name for name, value in totals.items() if value == top}
