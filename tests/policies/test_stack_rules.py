"""Stack policies (PDBs, NetworkPolicies, Pod Security, fallbacks, schedulability, fit, budget):
each with a passing and a failing stack, the message asserted."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from llmops.infra.config import StackConfig, parse, split_namespace
from llmops.policies.rules import Resource, StackFacts, evaluate, rule_by_id

from tests.policies.resources import changed, container, good_model_deployment, pod, resource

STACK = """
config:
  aws:region: us-east-1
  llmops:cluster: {kind: k3s, cloud: aws, allowedCidrs: [198.51.100.0/24]}
  llmops:pools:
    - {name: l4, cloud: aws, gpuType: L4, instanceTypes: [g6.xlarge], capacity: spot, max: 2, fallbackPool: l4-od}
    - {name: l4-od, cloud: aws, gpuType: L4, instanceTypes: [g6.xlarge], capacity: on-demand, max: 1}
  llmops:models:
    - {name: m, source: Qwen/Qwen2.5-0.5B-Instruct, pool: l4, gpuType: L4, maxModelLen: 8192}
  llmops:budget: {monthlyUsd: 5000}
"""


def config(text: str = STACK, **edits: Any) -> StackConfig:
    document = yaml.safe_load(text)["config"]
    document.update({f"llmops:{k}": v for k, v in edits.items()})
    return parse(split_namespace("test", document))


def unchecked_config(**edits: Any) -> StackConfig:
    """A config that skips the semantic checks: stacks the config layer already refuses still get
    a verdict from the pack (a pack config can outlive the validation it was written against)."""
    raw = split_namespace("test", yaml.safe_load(STACK)["config"])
    return StackConfig.model_validate(raw.values | edits)


def serving(namespace_labels: dict[str, str] | None = None) -> list[Resource]:
    """The good serving Deployment with its namespace, PDB and NetworkPolicies."""
    return [
        resource(
            "kubernetes:core/v1:Namespace",
            {
                "metadata": {
                    "name": "serving",
                    "labels": namespace_labels or {"pod-security.kubernetes.io/enforce": "restricted"},
                }
            },
            "ns",
        ),
        resource("kubernetes:apps/v1:Deployment", good_model_deployment(), "m"),
        resource(
            "kubernetes:policy/v1:PodDisruptionBudget",
            {
                "metadata": {"namespace": "serving"},
                "spec": {
                    "maxUnavailable": 1,
                    "selector": {"matchLabels": {"app.kubernetes.io/instance": "m"}},
                },
            },
            "pdb",
        ),
        resource(
            "kubernetes:networking.k8s.io/v1:NetworkPolicy",
            {"metadata": {"namespace": "serving"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}},
            "deny",
        ),
    ]


def findings(rule_id: str, resources: list[Resource], facts: StackFacts) -> list[str]:
    report = evaluate(resources, facts, {}, [rule_by_id(rule_id)])
    return [v.message for v in report.verdicts]


def without(resources: list[Resource], type_: str) -> list[Resource]:
    return [r for r in resources if r.type != type_]


def with_deployment(resources: list[Resource], props: dict[str, Any]) -> list[Resource]:
    return [
        resource(r.type, props, "m") if r.type == "kubernetes:apps/v1:Deployment" else r for r in resources
    ]


@pytest.fixture
def facts() -> StackFacts:
    return StackFacts(config=config(), region="us-east-1")


def test_every_stack_rule_is_tested_here() -> None:
    from llmops.policies.rules import RULES

    tested = {
        "model-pdb",
        "serving-network-policy",
        "serving-namespace-restricted",
        "spot-pool-fallback",
        "gpu-workload-schedulable",
        "model-fits-gpu",
        "budget-monthly",
        "budget-ceiling",
    }
    assert {rule.id for rule in RULES if rule.is_stack_rule} == tested


def test_the_good_stack_passes_every_stack_rule(facts: StackFacts) -> None:
    report = evaluate(serving(), facts, {})
    stack_rules = [
        rule_id for rule_id, outcome in report.outcome.items() if rule_by_id(rule_id).is_stack_rule
    ]
    assert [report.outcome[r] for r in stack_rules] == ["passed"] * len(stack_rules), report.outcome


def test_model_pdb(facts: StackFacts) -> None:
    assert findings("model-pdb", without(serving(), "kubernetes:policy/v1:PodDisruptionBudget"), facts) == [
        "Deployment m in serving: no PodDisruptionBudget selects its pods"
    ]


def test_serving_network_policy(facts: StackFacts) -> None:
    resources = without(serving(), "kubernetes:networking.k8s.io/v1:NetworkPolicy")
    resources.append(
        resource(
            "kubernetes:networking.k8s.io/v1:NetworkPolicy",
            {
                "metadata": {"namespace": "serving"},
                "spec": {"podSelector": {"matchLabels": {"app": "other"}}},
            },
            "other",
        )
    )
    assert findings("serving-network-policy", resources, facts) == [
        "Deployment m in serving: no ingress NetworkPolicy selects its pods; any pod in the cluster can call the model"
    ]


def test_serving_namespace_restricted(facts: StackFacts) -> None:
    resources = serving({"pod-security.kubernetes.io/enforce": "privileged"})
    assert findings("serving-namespace-restricted", resources, facts) == [
        "Namespace serving serves models but enforces Pod Security 'privileged', not 'restricted'"
    ]


def test_spot_pool_fallback(facts: StackFacts) -> None:
    pools = [
        {
            "name": "l4",
            "cloud": "aws",
            "gpuType": "L4",
            "instanceTypes": ["g6.xlarge"],
            "capacity": "spot",
            "max": 2,
            "fallbackPool": "a10",
        },
        {
            "name": "a10",
            "cloud": "aws",
            "gpuType": "A10G",
            "instanceTypes": ["g5.xlarge"],
            "capacity": "spot",
            "max": 1,
        },
    ]
    found = findings("spot-pool-fallback", [], StackFacts(config=unchecked_config(pools=pools)))
    assert found == [
        "llmops:pools[0] (l4): fallbackPool a10 has A10G GPUs, not L4; the model was sized for the spot pool's GPU",
        "llmops:pools[0] (l4): fallbackPool a10 is spot in the same cloud; it is reclaimed together",
        "llmops:pools[1] (a10): spot pool without a fallbackPool; its models stop when spot capacity is gone",
    ]
    assert findings("spot-pool-fallback", [], facts) == []


def test_gpu_workload_schedulable(facts: StackFacts) -> None:
    def two_gpus(props: dict[str, Any]) -> None:
        container(props)["resources"] = {"limits": {"nvidia.com/gpu": "2"}}

    too_big = with_deployment(serving(), changed(good_model_deployment(), two_gpus))
    assert findings("gpu-workload-schedulable", too_big, facts) == [
        "Deployment m (2 GPU(s) per pod) cannot be placed: l4: g6.xlarge has 1 GPU(s), the pod needs 2; "
        "l4-od: not selected by required node affinity"
    ]
    untolerated = with_deployment(
        serving(), changed(good_model_deployment(), lambda p: pod(p).pop("tolerations"))
    )
    assert (
        "l4: the pod does not tolerate the GPU taint nvidia.com/gpu=true:NoSchedule"
        in findings("gpu-workload-schedulable", untolerated, facts)[0]
    )


def test_gpu_workload_schedulable_is_not_applicable_without_pools() -> None:
    facts = StackFacts(config=config(cluster={"kind": "existing"}, pools=[], models=[]))
    report = evaluate(serving(), facts, {}, [rule_by_id("gpu-workload-schedulable")])
    assert report.outcome["gpu-workload-schedulable"].startswith(
        "not applicable: the stack builds no node pools"
    )


def test_model_fits_gpu(facts: StackFacts) -> None:
    big = [{"name": "m", "source": "meta-llama/Llama-3.1-70B-Instruct", "pool": "l4", "gpuType": "L4"}]
    found = findings("model-fits-gpu", [], StackFacts(config=unchecked_config(**{"models": big})))
    assert len(found) == 1 and found[0].startswith("model m: meta-llama/Llama-3.1-70B-Instruct")
    assert findings("model-fits-gpu", [], facts) == []


def test_budget_monthly_and_ceiling() -> None:
    pools = yaml.safe_load(STACK)["config"]["llmops:pools"]
    pools[0]["min"] = 1  # one spot machine all month
    budget = {"monthlyUsd": 10, "enforcement": "mandatory"}
    tight = StackFacts(config=config(budget=budget, pools=pools), region="us-east-1")
    report = evaluate([], tight, {}, [rule_by_id("budget-monthly"), rule_by_id("budget-ceiling")])
    assert [(v.id, v.level.value) for v in report.verdicts] == [
        ("budget-monthly", "mandatory"),
        ("budget-ceiling", "mandatory"),
    ]
    assert report.verdicts[0].message.startswith("budget.monthlyUsd: the estimate $")
    assert report.verdicts[0].message.endswith("a month is over the budget $10.00")
    assert "every pool at its max costs $" in report.verdicts[1].message
    roomy = StackFacts(config=config(budget={"monthlyUsd": 100000}), region="us-east-1")
    assert (
        evaluate([], roomy, {}, [rule_by_id("budget-monthly"), rule_by_id("budget-ceiling")]).verdicts == []
    )
