"""Placement `spread`: the leading pools share the top preference and replicas spread evenly over
them, later pools stay fallbacks. The rendered pod spec, scored as kube-scheduler scores it
(tests/support/scheduler_scores.py), against the same pools placed `ordered`."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import kubernetes_validate
import pytest
from llmops.components.serving import EngineSpec, VllmModel, VllmModelArgs
from llmops.components.serving.spread import CLOUD_LABEL, POOL_LABEL

from tests.components.k3s.mocks import run_program
from tests.support.scheduler_scores import Node, best

KUBERNETES_VERSION = "1.33.0"
SPOT = ("aws-l4-spot", "gcp-l4-spot")
FALLBACK = "azure-l4-on-demand"
CLOUD_OF = {"aws-l4-spot": "aws", "gcp-l4-spot": "gcp", FALLBACK: "azure"}
CEILING = 6


def _pod(pools: tuple[str, ...], even: int) -> dict[str, Any]:
    args = VllmModelArgs(
        engine=EngineSpec(model="Qwen/Qwen2.5-0.5B-Instruct"),
        namespace="serving",
        replicas=CEILING,
        node_pools=list(pools),
        even_pools=even,
        spread_over=(CLOUD_LABEL,),
    )
    mocks, _ = run_program(lambda: (VllmModel("qwen", args), {})[1])
    (deployment,) = mocks.of_type("kubernetes:apps/v1:Deployment")
    rendered = {"apiVersion": "apps/v1", "kind": "Deployment", **deployment.inputs}
    kubernetes_validate.validate(rendered, KUBERNETES_VERSION, strict=True)
    return rendered["spec"]["template"]["spec"]


@pytest.fixture(scope="module")
def spread() -> dict[str, Any]:
    return _pod((*SPOT, FALLBACK), even=2)


@pytest.fixture(scope="module")
def ordered() -> dict[str, Any]:
    return _pod((*SPOT, FALLBACK), even=1)


@pytest.fixture(scope="module")
def spot_only() -> dict[str, Any]:
    return _pod(SPOT, even=2)


def cluster(per_pool: int = CEILING, pools: tuple[str, ...] = (*SPOT, FALLBACK)) -> list[Node]:
    """`per_pool` empty nodes in each pool, each with room for one replica."""
    return [
        Node(f"{pool}-{i}", {POOL_LABEL: pool, CLOUD_LABEL: CLOUD_OF[pool]})
        for pool in pools
        for i in range(per_pool)
    ]


def place(pod: dict[str, Any], nodes: list[Node], count: int) -> tuple[list[Node], list[set[str]]]:
    """Schedule `count` replicas one at a time (one per node), taking the first of the best nodes
    by name; returns the nodes and, per replica, the pools the scheduler could have picked."""
    choices: list[set[str]] = []
    for _ in range(count):
        picks = best(pod, nodes)
        assert picks, "no node took the replica"
        pool_of = {n.name: n.labels[POOL_LABEL] for n in nodes}
        choices.append({pool_of[name] for name in picks})
        chosen = min(picks)
        nodes = [Node(n.name, n.labels, n.pods + 1, free=False) if n.name == chosen else n for n in nodes]
    return nodes, choices


def per_pool(nodes: list[Node]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for n in nodes:
        counts[n.labels[POOL_LABEL]] += n.pods
    return +counts


def test_the_spread_pools_share_the_top_weight_and_the_fallback_stays_below(spread: dict[str, Any]) -> None:
    preferred = spread["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert [(p["weight"], p["preference"]["matchExpressions"][0]["values"]) for p in preferred] == [
        (100, ["aws-l4-spot"]),
        (100, ["gcp-l4-spot"]),
        (50, [FALLBACK]),
    ]


@pytest.mark.parametrize("fixture", ["spread", "spot_only"])
def test_the_spread_is_soft_and_never_caps_a_survivor(fixture: str, request: pytest.FixtureRequest) -> None:
    pod = request.getfixturevalue(fixture)
    constraints = pod["topologySpreadConstraints"]
    assert [c["topologyKey"] for c in constraints] == ["kubernetes.io/hostname", CLOUD_LABEL]
    for constraint in constraints:
        assert constraint["whenUnsatisfiable"] == "ScheduleAnyway"
        assert "minDomains" not in constraint
        assert constraint["nodeAffinityPolicy"] == "Honor"


def test_spread_alternates_clouds_where_ordered_fills_the_first_pool(
    spread: dict[str, Any], ordered: dict[str, Any]
) -> None:
    nodes, choices = place(spread, cluster(), CEILING)
    assert per_pool(nodes) == {"aws-l4-spot": 3, "gcp-l4-spot": 3}
    # Whichever best node the scheduler picks, it is in the emptier spot pool (ties: either).
    for k, picked in enumerate(choices):
        assert picked == (set(SPOT) if k % 2 == 0 else set(SPOT) - {min(SPOT)})
    nodes, _ = place(ordered, cluster(), CEILING)
    assert per_pool(nodes) == {"aws-l4-spot": CEILING}


def test_with_two_spot_pools_alone_the_spread_runs_at_full_strength(spot_only: dict[str, Any]) -> None:
    assert {c["maxSkew"] for c in spot_only["topologySpreadConstraints"]} == {1}
    nodes, _ = place(spot_only, cluster(pools=SPOT), CEILING)
    assert per_pool(nodes) == {"aws-l4-spot": 3, "gcp-l4-spot": 3}


@pytest.mark.parametrize("on_aws", range(CEILING))
def test_an_empty_fallback_never_beats_a_spot_pool_with_room(spread: dict[str, Any], on_aws: int) -> None:
    # However lopsided the spot pools are, the next replica stays on spot while spot has a node.
    nodes = [
        *(
            Node(f"aws-{i}", {POOL_LABEL: SPOT[0], CLOUD_LABEL: "aws"}, pods=1, free=False)
            for i in range(on_aws)
        ),
        Node("aws-free", {POOL_LABEL: SPOT[0], CLOUD_LABEL: "aws"}),
        Node("azure-free", {POOL_LABEL: FALLBACK, CLOUD_LABEL: "azure"}),
    ]
    assert best(spread, nodes) == {"aws-free"}


def test_a_skew_of_one_with_a_fallback_would_move_replicas_onto_it(spread: dict[str, Any]) -> None:
    # Why the skew is sized when fallbacks follow: at full strength the empty on-demand cloud wins.
    full = copy.deepcopy(spread)
    for constraint in full["topologySpreadConstraints"]:
        constraint["maxSkew"] = 1
    nodes = [
        Node("aws-0", {POOL_LABEL: SPOT[0], CLOUD_LABEL: "aws"}, pods=1, free=False),
        Node("gcp-0", {POOL_LABEL: SPOT[1], CLOUD_LABEL: "gcp"}, pods=1, free=False),
        Node("aws-free", {POOL_LABEL: SPOT[0], CLOUD_LABEL: "aws"}),
        Node("azure-free", {POOL_LABEL: FALLBACK, CLOUD_LABEL: "azure"}),
    ]
    assert best(full, nodes) == {"azure-free"}
    assert best(spread, nodes) == {"aws-free"}


def test_a_lost_spot_pool_sends_replicas_to_the_other_then_the_fallback(spread: dict[str, Any]) -> None:
    survivors = [n for n in cluster(per_pool=2) if n.labels[POOL_LABEL] != SPOT[0]]
    nodes, _ = place(spread, survivors, 4)
    assert per_pool(nodes) == {"gcp-l4-spot": 2, FALLBACK: 2}
