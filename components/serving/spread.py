"""Where a model's replicas go: required pools, preferred in order, and spread over failure domains.

The scheduler adds up, per candidate node, each score plugin's 0-100 score times its weight (the
default profile weighs NodeAffinity 2 and PodTopologySpread 2). The pool order is a NodeAffinity
preference; the spread over clouds (and zones) is a PodTopologySpread score. Both are soft, so a
surviving pool is never refused a replica. The spread's `maxSkew` is sized so that the pool order
wins while one domain holds up to the model's replica ceiling more than another: spread breaks ties
and never moves a replica off a preferred spot pool onto a dearer fallback in normal operation.
See docs/decisions/140-cross-cloud-placement.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pulumi_kubernetes as k8s

POOL_LABEL = "llmops.io/pool"
"""Node label every llmops GPU pool puts on its nodes (components/k3s/render.py)."""
CLOUD_LABEL = "llmops.io/cloud"
"""Node label naming the node's cloud, on every llmops pool's nodes (components/k3s/render.py)."""
ZONE_LABEL = "topology.kubernetes.io/zone"
"""The well-known zone label; managed clusters' nodes carry it."""
HOSTNAME_LABEL = "kubernetes.io/hostname"
MAX_PREFERENCE_WEIGHT = 100
"""The largest weight the scheduler accepts for a preferred term (1..100)."""
ZONES_PER_DOMAIN = 3
"""Zones one pool may span when bounding the zone spread's normalising weight (a region's usual)."""


def preference_weight(rank: int) -> int:
    """Weight of the pool at `rank` in the model's order: 100, 50, 25, ... (at least 1). Halving
    keeps every pool's score at least twice the next one's, whichever pools have a free node."""
    return max(1, MAX_PREFERENCE_WEIGHT >> rank)


def pool_affinity(pools: Sequence[str], even: int = 1) -> k8s.core.v1.AffinityArgs | None:
    """Run only on the given pools, preferring the earlier ones (spot first, then its fallbacks).
    The first `even` pools share the top weight (placement `spread`); the rest follow at 50, 25, ..."""
    if not pools:
        return None
    lead = max(1, min(even, len(pools))) - 1
    in_pools = k8s.core.v1.NodeSelectorRequirementArgs(key=POOL_LABEL, operator="In", values=list(pools))
    preferred = [
        k8s.core.v1.PreferredSchedulingTermArgs(
            weight=preference_weight(max(0, rank - lead)),
            preference=k8s.core.v1.NodeSelectorTermArgs(
                match_expressions=[
                    k8s.core.v1.NodeSelectorRequirementArgs(key=POOL_LABEL, operator="In", values=[pool])
                ]
            ),
        )
        for rank, pool in enumerate(pools)
    ]
    return k8s.core.v1.AffinityArgs(
        node_affinity=k8s.core.v1.NodeAffinityArgs(
            required_during_scheduling_ignored_during_execution=k8s.core.v1.NodeSelectorArgs(
                node_selector_terms=[k8s.core.v1.NodeSelectorTermArgs(match_expressions=[in_pools])]
            ),
            preferred_during_scheduling_ignored_during_execution=preferred if len(pools) > 1 else None,
        )
    )


def default_spread_keys(pools: Sequence[str]) -> tuple[str, ...]:
    """Failure domains to spread over besides the node: the cloud on llmops pools (every pool node
    carries `llmops.io/cloud`), the zone on any other cluster (managed clusters label zones).

    Every node that may run the model must carry every key: the scheduler gives a node missing one
    no spread score at all, which would switch off the per-node spread too. K3s agents do not label
    their zone yet, so the zone is not a default on llmops pools."""
    return (CLOUD_LABEL,) if pools else (ZONE_LABEL,)


def spread_max_skew(keys: Sequence[str], pools: Sequence[str], ceiling: int, even: int = 1) -> int:
    """`maxSkew` of every (soft) spread constraint, the per-node one included: large enough that the
    pool order outweighs the spread while one domain (or node) holds up to `ceiling` replicas more
    than another; 1 (full strength) without pools, where there is no order to protect.

    A soft constraint scores a node `count x ln(domains + 2) + maxSkew - 1` (lower is better), and
    the plugin normalises to 100 x (max + min - score) / max. The preferred node's affinity score
    leads the next pool's by at least half (weights halve by rank), which outweighs the spread's lead
    as long as the constant terms exceed the count terms: sum(maxSkew - 1) > ceiling x sum(ln(d+2)).
    The normalisation rounds down, so a lead of one replica still breaks ties within a pool, or
    between the `even` equally preferred pools of placement `spread`; when those are all the pools
    there is no order to protect either, and the spread runs at full strength (decision 143)."""
    if not pools or even >= len(pools):
        return 1
    every = [HOSTNAME_LABEL, *keys]
    domains = [
        max(1, ceiling)
        if key == HOSTNAME_LABEL
        else len(pools) * (ZONES_PER_DOMAIN if key == ZONE_LABEL else 1)
        for key in every
    ]
    weight = sum(math.log(d + 2) for d in domains)
    return 2 + math.ceil(max(1, ceiling) * weight / len(every))


def spread_constraints(
    select: Mapping[str, str], pools: Sequence[str], keys: Sequence[str], ceiling: int, even: int = 1
) -> list[k8s.core.v1.TopologySpreadConstraintArgs]:
    """Soft spread over nodes and the `keys` domains. `ScheduleAnyway` everywhere: a hard constraint
    would leave a replica Pending on a surviving pool whenever another domain had fewer replicas,
    and cluster-autoscaler, which honours hard constraints, would grow a dearer pool to satisfy it.
    No `minDomains` (hard constraints only; with fewer domains than it, e.g. after a pool loss, it
    caps each survivor at maxSkew replicas). Node inclusion `Honor` for affinity and taints: only
    nodes of the model's pools that it may use count, so a cordoned node or a CPU server's zone
    never holds the minimum down. `pod-template-hash`: a rollout's new pods spread among themselves,
    not against the old ReplicaSet's."""
    selector = k8s.meta.v1.LabelSelectorArgs(match_labels=dict(select))
    skew = spread_max_skew(keys, pools, ceiling, even)

    def constraint(key: str, max_skew: int) -> k8s.core.v1.TopologySpreadConstraintArgs:
        return k8s.core.v1.TopologySpreadConstraintArgs(
            max_skew=max_skew,
            topology_key=key,
            when_unsatisfiable="ScheduleAnyway",
            label_selector=selector,
            match_label_keys=["pod-template-hash"],
            node_affinity_policy="Honor",
            node_taints_policy="Honor",
        )

    # Replicas on different nodes first, so one lost spot machine takes one replica.
    return [constraint(key, skew) for key in (HOSTNAME_LABEL, *keys)]
