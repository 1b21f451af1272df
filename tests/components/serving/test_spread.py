"""Placement across pools, clouds and zones: the rendered pod spec, scored as kube-scheduler scores
it (tests/support/scheduler_scores.py), and checked against the Kubernetes schema."""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest
from llmops.components.serving import EngineSpec, VllmModel, VllmModelArgs
from llmops.components.serving.spread import CLOUD_LABEL, POOL_LABEL, ZONE_LABEL, spread_max_skew

from tests.components.k3s.mocks import run_program
from tests.support.scheduler_scores import Node, best

KUBERNETES_VERSION = "1.33.0"
POOLS = ("aws-l4-spot", "gcp-l4-spot", "azure-a10-on-demand")
CLOUD_OF = {"aws-l4-spot": "aws", "gcp-l4-spot": "gcp", "azure-a10-on-demand": "azure"}
CEILING = 6


def _render(**overrides: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    args = VllmModelArgs(
        engine=EngineSpec(model="Qwen/Qwen2.5-0.5B-Instruct"),
        namespace="serving",
        replicas=CEILING,
        node_pools=list(POOLS),
        **overrides,
    )
    mocks, _ = run_program(lambda: (VllmModel("qwen", args), {})[1])
    (deployment,) = mocks.of_type("kubernetes:apps/v1:Deployment")
    (budget,) = mocks.of_type("kubernetes:policy/v1:PodDisruptionBudget")
    return (
        {"apiVersion": "apps/v1", "kind": "Deployment", **deployment.inputs},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", **budget.inputs},
    )


@pytest.fixture(scope="module")
def rendered() -> tuple[dict[str, Any], dict[str, Any]]:
    return _render()


@pytest.fixture(scope="module")
def pod(rendered: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    return rendered[0]["spec"]["template"]["spec"]


def node(name: str, pool: str, pods: int = 0, free: bool = True, zone: str | None = None) -> Node:
    labels = {POOL_LABEL: pool, CLOUD_LABEL: CLOUD_OF[pool], **({ZONE_LABEL: zone} if zone else {})}
    return Node(name, labels, pods=pods, free=free)


def test_deployment_and_budget_are_schema_valid(rendered: tuple[dict[str, Any], dict[str, Any]]) -> None:
    deployment, budget = rendered
    kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    kubernetes_validate.validate(budget, KUBERNETES_VERSION, strict=True)
    spec = budget["spec"]
    assert spec["maxUnavailable"] == 1 and "minAvailable" not in spec
    assert spec["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def test_affinity_requires_the_pools_and_prefers_them_in_order(pod: dict[str, Any]) -> None:
    affinity = pod["affinity"]["nodeAffinity"]
    (term,) = affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert term["matchExpressions"] == [{"key": POOL_LABEL, "operator": "In", "values": list(POOLS)}]
    preferred = affinity["preferredDuringSchedulingIgnoredDuringExecution"]
    assert [(p["weight"], p["preference"]["matchExpressions"][0]["values"]) for p in preferred] == [
        (100, ["aws-l4-spot"]),
        (50, ["gcp-l4-spot"]),
        (25, ["azure-a10-on-demand"]),
    ]


def test_spread_is_soft_over_nodes_and_clouds_and_never_caps_a_survivor(pod: dict[str, Any]) -> None:
    constraints = pod["topologySpreadConstraints"]
    assert [c["topologyKey"] for c in constraints] == ["kubernetes.io/hostname", CLOUD_LABEL]
    for constraint in constraints:
        # A hard constraint or minDomains could leave a replica Pending on a surviving pool.
        assert constraint["whenUnsatisfiable"] == "ScheduleAnyway"
        assert "minDomains" not in constraint
        assert constraint["nodeAffinityPolicy"] == "Honor" and constraint["nodeTaintsPolicy"] == "Honor"
        assert constraint["matchLabelKeys"] == ["pod-template-hash"]
    skew = spread_max_skew([CLOUD_LABEL], POOLS, CEILING)
    assert [c["maxSkew"] for c in constraints] == [skew, skew] and skew > 1


@pytest.mark.parametrize("on_spot", range(CEILING))
def test_in_normal_operation_the_spot_pool_wins_over_spreading(pod: dict[str, Any], on_spot: int) -> None:
    nodes = [node(f"aws-{i}", "aws-l4-spot", pods=1, free=False) for i in range(on_spot)]
    nodes += [
        node("aws-free", "aws-l4-spot"),
        node("gcp-free", "gcp-l4-spot"),
        node("azure-free", "azure-a10-on-demand"),
    ]
    assert best(pod, nodes) == {"aws-free"}


@pytest.mark.parametrize("on_gcp", range(CEILING))
def test_with_the_first_pool_gone_the_next_pool_takes_the_replicas(pod: dict[str, Any], on_gcp: int) -> None:
    nodes = [node(f"gcp-{i}", "gcp-l4-spot", pods=1, free=False) for i in range(on_gcp)]
    nodes += [node("gcp-free", "gcp-l4-spot"), node("azure-free", "azure-a10-on-demand")]
    assert best(pod, nodes) == {"gcp-free"}
    assert best(pod, [node("azure-free", "azure-a10-on-demand")]) == {"azure-free"}


def test_within_a_pool_the_emptier_node_wins(pod: dict[str, Any]) -> None:
    # Multi-GPU machines: a node with a replica already and one without.
    nodes = [node("aws-a", "aws-l4-spot", pods=1), node("aws-b", "aws-l4-spot")]
    assert best(pod, nodes) == {"aws-b"}
    nodes = [node("aws-a", "aws-l4-spot", pods=3), node("aws-b", "aws-l4-spot", pods=2)]
    assert best(pod, nodes) == {"aws-b"}


def test_a_partly_used_machine_of_the_spot_pool_beats_an_empty_fallback(pod: dict[str, Any]) -> None:
    # A four-GPU spot machine with three replicas and one GPU free, next to empty machines elsewhere.
    nodes = [
        node("aws-big", "aws-l4-spot", pods=3),
        node("gcp-free", "gcp-l4-spot"),
        node("azure-free", "azure-a10-on-demand"),
    ]
    assert best(pod, nodes) == {"aws-big"}
    naive = copy.deepcopy(pod)
    for constraint in naive["topologySpreadConstraints"]:
        constraint["maxSkew"] = 1
    assert best(naive, nodes) != {"aws-big"}


def test_a_skew_of_one_would_move_replicas_off_the_spot_pool(pod: dict[str, Any]) -> None:
    """Why maxSkew is sized: at full strength the spread outweighs the pool order as soon as one
    cloud holds a replica more."""
    naive = copy.deepcopy(pod)
    for constraint in naive["topologySpreadConstraints"]:
        constraint["maxSkew"] = 1
    nodes = [
        node("aws-0", "aws-l4-spot", pods=1, free=False),
        node("aws-free", "aws-l4-spot"),
        node("gcp-free", "gcp-l4-spot"),
    ]
    assert best(naive, nodes) == {"gcp-free"}
    assert best(pod, nodes) == {"aws-free"}


def test_a_domain_label_the_nodes_lack_switches_off_every_spread() -> None:
    """Why the zone is not a default on llmops pools (their agents do not label zones): a node
    missing one constraint's key gets no spread score, so even the per-node spread is lost."""
    deployment, _ = _render(spread_over=[CLOUD_LABEL, ZONE_LABEL])
    zoned = deployment["spec"]["template"]["spec"]
    nodes = [node("aws-a", "aws-l4-spot", pods=1), node("aws-b", "aws-l4-spot")]
    assert best(zoned, nodes) == {"aws-a", "aws-b"}
    labelled = [
        node("aws-a", "aws-l4-spot", pods=1, zone="us-east-1a"),
        node("aws-b", "aws-l4-spot", zone="us-east-1a"),
        node("aws-c", "aws-l4-spot", pods=0, zone="us-east-1b"),
        node("aws-d", "aws-l4-spot", pods=2, free=False, zone="us-east-1a"),
    ]
    # Once nodes carry their zone, the emptier zone of the preferred pool wins.
    assert best(zoned, labelled) == {"aws-c"}


def test_without_pools_replicas_spread_over_zones_at_full_strength() -> None:
    args = VllmModelArgs(
        engine=EngineSpec(model="Qwen/Qwen2.5-0.5B-Instruct"), namespace="serving", replicas=3
    )
    mocks, _ = run_program(lambda: (VllmModel("qwen", args), {})[1])
    (deployment,) = mocks.of_type("kubernetes:apps/v1:Deployment")
    pod = deployment.inputs["spec"]["template"]["spec"]
    assert "affinity" not in pod
    zone = pod["topologySpreadConstraints"][1]
    assert (zone["topologyKey"], zone["maxSkew"]) == (ZONE_LABEL, 1)
    nodes = [
        Node("a1", {ZONE_LABEL: "a"}, pods=1, free=False),
        Node("a2", {ZONE_LABEL: "a"}),
        Node("b1", {ZONE_LABEL: "b"}),
    ]
    assert best(pod, nodes) == {"b1"}


CHAIN_STACK = """
config:
  aws:region: us-east-1
  llmops:cluster: {kind: k3s, cloud: aws, servers: 1, serverInstanceType: m7i.large, allowedCidrs: [203.0.113.0/24]}
  llmops:pools:
    - {name: l4-spot, cloud: aws, gpuType: L4, instanceTypes: [g6.xlarge], capacity: spot, min: 0, max: 4,
       fallbackPool: l4-spot-large}
    - {name: l4-spot-large, cloud: aws, gpuType: L4, instanceTypes: [g6.2xlarge], capacity: spot, min: 0, max: 2,
       fallbackPool: l4-on-demand}
    - {name: l4-on-demand, cloud: aws, gpuType: L4, instanceTypes: [g6.xlarge], capacity: on-demand, min: 0, max: 2}
  llmops:models:
    - {name: qwen, source: Qwen/Qwen2.5-0.5B-Instruct, pool: l4-spot, replicas: 2}
"""


def test_a_stack_model_follows_its_pools_whole_fallback_chain_in_order() -> None:
    from tests.infra.test_plan import only, plan_of

    plan = plan_of(CHAIN_STACK)
    deployment = only(plan, "kubernetes:apps/v1:Deployment").inputs
    kubernetes_validate.validate(
        {"apiVersion": "apps/v1", "kind": "Deployment", **deployment}, KUBERNETES_VERSION, strict=True
    )
    pod = deployment["spec"]["template"]["spec"]
    (term,) = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert term["matchExpressions"][0]["values"] == ["l4-spot", "l4-spot-large", "l4-on-demand"]
    preferred = pod["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert [p["weight"] for p in preferred] == [100, 50, 25]


def test_replicas_on_a_silent_node_are_replaced_after_the_replayed_toleration(pod: dict[str, Any]) -> None:
    from llmops.components.capacity.failover import NOT_READY_TOLERATION_S

    tolerations = {t["key"]: t for t in pod["tolerations"]}
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        assert tolerations[key] == {
            "key": key,
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": NOT_READY_TOLERATION_S,
        }
    assert NOT_READY_TOLERATION_S < 300  # Kubernetes' default, which the replay does not assume
