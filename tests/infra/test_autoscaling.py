"""Stack config `autoscaling:` / `nodeAutoscaling:`: key-path errors, the spec the program renders, the cost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from llmops.components.serving.autoscaling import AutoscalingSpec
from llmops.infra import costing
from llmops.infra.autoscaling import autoscaled_ceiling, model_ceilings, working_batch
from llmops.infra.config import read_stack_file
from llmops.infra.plan import Plan, run_plan

from tests.conftest import require_shared
from tests.infra.test_config import K3S_CLUSTER, parse_text, problems_of
from tests.support.crd import crd_errors

POOLS = """\
  llmops:pools:
    - {name: l4-spot, cloud: aws, gpuType: L4, instanceTypes: [g6.xlarge], capacity: spot, max: 3,
       fallbackPool: l4-od}
    - {name: l4-od, cloud: aws, gpuType: L4, instanceTypes: [g6.xlarge], max: 2}
"""
OBSERVED = "  llmops:observability: {enabled: true}\n"


def stack(autoscaling: str, *, observability: str = OBSERVED, extra: str = "") -> str:
    return (
        "config:\n"
        + K3S_CLUSTER
        + POOLS
        + "  llmops:models:\n"
        + "    - name: qwen\n"
        + "      source: Qwen/Qwen2.5-0.5B-Instruct\n"
        + "      pool: l4-spot\n"
        + f"      autoscaling: {autoscaling}\n"
        + observability
        + extra
    )


def test_a_valid_block_parses_with_its_defaults() -> None:
    config = parse_text(stack("{maxReplicas: 4}"))
    scaling = config.models[0].autoscaling
    assert scaling is not None
    assert (scaling.min_replicas, scaling.target, scaling.scale_down_window_s, scaling.predictive) == (
        1,
        0.8,
        300,
        True,
    )
    assert config.node_autoscaling.idle_s == 600


@pytest.mark.parametrize(
    ("block", "observability", "expected"),
    [
        (
            "{minReplicas: 3, maxReplicas: 2}",
            OBSERVED,
            "models[0].autoscaling.minReplicas: 3 is larger than maxReplicas (2). "
            "Fix: set minReplicas <= 2, or raise maxReplicas to 3",
        ),
        (
            "{maxReplicas: 6}",
            OBSERVED,
            "models[0].autoscaling.maxReplicas: 6 is more than the model's pools can hold (5: l4-spot 3 node(s) "
            "x 1 replica(s) + l4-od 2 node(s) x 1 replica(s); a replica needs 1 GPU(s) on one node). "
            "Fix: set maxReplicas <= 5, or raise max of pool 'l4-spot'",
        ),
        (
            "{maxReplicas: 2, windows: [{name: day, start: '08:00', end: '25:00', replicas: 1}]}",
            OBSERVED,
            "models[0].autoscaling.windows[0].end: '25:00' is not a time of day. "
            "Fix: write HH:MM between 00:00 and 24:00, e.g. '08:00'",
        ),
        (
            "{maxReplicas: 2, windows: [{name: day, start: '18:00', end: '08:00', replicas: 1}]}",
            OBSERVED,
            "models[0].autoscaling.windows[0].end: '08:00' is not after start ('18:00'). Fix: end the window "
            "later the same day; split an overnight window in two (start to '24:00', then '00:00' to end)",
        ),
        (
            "{maxReplicas: 2, windows: [{name: day, start: '08:00', end: '18:00', replicas: 1, "
            "timezone: Europe/Berlinn}]}",
            OBSERVED,
            "models[0].autoscaling.windows[0].timezone: 'Europe/Berlinn' is not an IANA time zone. "
            "Fix: use a name such as 'Europe/Berlin', 'America/New_York' or 'UTC'",
        ),
        (
            "{maxReplicas: 2, windows: [{name: day, start: '08:00', end: '18:00', replicas: 1, days: 'mon-fri'}]}",
            OBSERVED,
            "models[0].autoscaling.windows[0].days: 'mon-fri' is not a cron day-of-week field. "
            "Fix: write '*' (every day), '1-5' (Monday to Friday) or a list such as '1,3,5'",
        ),
        (
            "{maxReplicas: 2, windows: [{name: day, start: '08:00', end: '18:00', replicas: 3}]}",
            OBSERVED,
            "models[0].autoscaling.windows[0].replicas: 3 is above maxReplicas (2). "
            "Fix: set replicas <= 2, or raise maxReplicas",
        ),
        (
            "{maxReplicas: 2, predictive: true}",
            "",
            "models[0].autoscaling.predictive: true needs the demand forecast that observability records. "
            "Fix: set observability.enabled: true, or predictive: false",
        ),
        (
            "{maxReplicas: 2, predictive: false}",
            "",
            "models[0].autoscaling: reads the replicas' load from Prometheus, but observability is off. "
            "Fix: set observability.enabled: true, or remove autoscaling and set replicas",
        ),
        (
            "{maxReplicas: 2, scaleDownWindowS: 7200}",
            OBSERVED,
            "models[0].autoscaling.scaleDownWindowS: 7200",
        ),
    ],
    ids=[
        "min-above-max",
        "max-above-pools",
        "window-outside-the-day",
        "window-ends-before-it-starts",
        "bad-timezone",
        "bad-days",
        "window-above-max",
        "predictive-without-observability",
        "reactive-without-observability",
        "window-too-long",
    ],
)
def test_bad_autoscaling_is_reported_with_its_key_path(block: str, observability: str, expected: str) -> None:
    problems = problems_of(stack(block, observability=observability))
    assert any(p.startswith(expected) for p in problems), problems


def test_a_model_outside_the_catalog_needs_max_num_seqs() -> None:
    text = stack("{maxReplicas: 2, predictive: false}").replace(
        "Qwen/Qwen2.5-0.5B-Instruct", "acme/unknown-model"
    )
    assert problems_of(text) == [
        "models[0].autoscaling: needs a replica's working batch, and the capacity catalog has no figures for "
        "'acme/unknown-model' on this GPU. Fix: set models[0].maxNumSeqs to the batch one replica serves"
    ]
    config = parse_text(text.replace("      pool: l4-spot\n", "      pool: l4-spot\n      maxNumSeqs: 32\n"))
    assert working_batch(config.models[0], {p.name: p for p in config.pools}) == 32
    assert any(
        p.startswith(
            "models[0].autoscaling.predictive: true needs the demand forecast, which needs the capacity"
        )
        for p in problems_of(
            stack("{maxReplicas: 2}")
            .replace("Qwen/Qwen2.5-0.5B-Instruct", "acme/unknown-model")
            .replace("      pool: l4-spot\n", "      pool: l4-spot\n      maxNumSeqs: 32\n")
        )
    )


def test_node_autoscaling_needs_built_pools() -> None:
    text = "config:\n  llmops:cluster: {kind: existing}\n  llmops:nodeAutoscaling: {enabled: true}\n"
    assert problems_of(text) == [
        "nodeAutoscaling.enabled: true needs pools this stack builds; cluster.kind is 'existing'. "
        "Fix: remove nodeAutoscaling, and run your cluster's own node autoscaler"
    ]


def test_every_problem_at_once() -> None:
    problems = problems_of(
        stack("{minReplicas: 9, maxReplicas: 8, windows: [{name: a, start: '7', end: '08:00', replicas: 1}]}")
    )
    paths = {p.split(":")[0] for p in problems}
    assert {
        "models[0].autoscaling.minReplicas",
        "models[0].autoscaling.maxReplicas",
        "models[0].autoscaling.windows[0].start",
    } <= paths


# --------------------------------------------------------------------------- the plan of aws-dev


@pytest.fixture(scope="module")
def plan(repo_root: Path) -> Plan:
    return run_plan(read_stack_file(repo_root / "stacks", "aws-dev"), "aws-dev")


def scaled_object(plan: Plan) -> dict[str, Any]:
    (resource,) = plan.of_type("kubernetes:keda.sh/v1alpha1:ScaledObject")
    inputs = resource.inputs
    return {
        "apiVersion": inputs["apiVersion"],
        "kind": inputs["kind"],
        "metadata": inputs["metadata"],
        "spec": inputs["spec"],
    }


def test_aws_dev_autoscales_its_model(plan: Plan) -> None:
    document = scaled_object(plan)
    assert (
        crd_errors(
            document,
            require_shared("reference/crd-schemas/upstream-crds/keda-v2.20.2/keda.sh_scaledobjects.yaml"),
        )
        == []
    )
    spec = document["spec"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (1, 4)
    assert [t["name"] for t in spec["triggers"]] == ["reactive", "predictive", "window-workday"]
    assert spec["triggers"][0]["metadata"]["serverAddress"] == "http://obs-kps-prometheus.monitoring.svc:9090"
    workday = spec["triggers"][2]["metadata"]
    assert workday == {
        "timezone": "Europe/Berlin",
        "start": "0 8 * * 1-5",
        "end": "0 19 * * 1-5",
        "desiredReplicas": "2",
    }
    # The Deployment starts at minReplicas and leaves later sizes to the HPA.
    (deployment,) = plan.of_type("kubernetes:apps/v1:Deployment")
    assert deployment.inputs["spec"]["replicas"] == 1


def test_aws_dev_installs_keda_and_the_cluster_autoscaler(plan: Plan) -> None:
    releases = {r.inputs["name"]: r.inputs for r in plan.of_type("kubernetes:helm.sh/v3:Release")}
    keda = releases["autoscaling-keda"]
    assert (keda["chart"], keda["version"], keda["repositoryOpts"]["repo"]) == (
        "keda",
        "2.20.2",
        "https://kedacore.github.io/charts",
    )
    ca = releases["aws-dev-autoscaler-ca"]
    assert (ca["chart"], ca["version"]) == ("cluster-autoscaler", "9.59.0")
    assert ca["values"]["autoDiscovery"]["clusterName"] == "aws-dev"
    assert ca["values"]["extraArgs"]["scale-down-unneeded-time"] == "600s"
    (policy,) = [
        r for r in plan.of_type("aws:iam/rolePolicy:RolePolicy") if r.name.endswith("cluster-autoscaler")
    ]
    document = json.loads(policy.inputs["policy"])
    (scoped,) = [s for s in document["Statement"] if "Condition" in s]
    assert scoped["Condition"] == {
        "StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/aws-dev": "owned"}
    }
    # On the servers' role, where the autoscaler runs.
    assert policy.inputs["role"] == "aws-dev-server-role-id"


def test_every_pool_group_of_aws_dev_is_discoverable(plan: Plan) -> None:
    groups = plan.of_type("aws:autoscaling/group:Group")
    assert len(groups) == len(plan.config.pools)
    for group in groups:
        tags = {t["key"]: t["value"] for t in group.inputs["tags"]}
        assert tags["k8s.io/cluster-autoscaler/enabled"] == "true"
        assert tags["k8s.io/cluster-autoscaler/aws-dev"] == "owned"
        assert tags["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"] == "1"


def test_the_spec_the_program_renders_is_built_from_the_stack(plan: Plan) -> None:
    from llmops.infra.program import autoscaling_spec

    config = plan.config
    model = config.models[0]
    spec = autoscaling_spec(model, {p.name: p for p in config.pools}, config.observability)
    assert isinstance(spec, AutoscalingSpec)
    assert (spec.min_replicas, spec.max_replicas, spec.target, spec.scale_down_window_s) == (1, 4, 0.8, 300)
    assert spec.scrape_interval_s == 2.0
    rendered = scaled_object(plan)["spec"]
    assert rendered["triggers"][0]["metadata"]["threshold"] == f"{spec.reactive_threshold:g}"


def test_plan_prices_the_autoscaled_ceiling(plan: Plan) -> None:
    estimate = costing.estimate(plan.config, "us-east-1")
    entry = estimate.cost["autoscaling"]["qwen2-5-0-5b"]
    assert entry["max_replicas"] == 4 and entry["triggers"] == ["reactive", "predictive", "window-workday"]
    # Four replicas: both on-demand nodes (the dearest) and two spot nodes, all month.
    lines = estimate.cost["per_pool"]
    expected = 720 * (
        2 * lines["l4-on-demand"]["on_demand_usd_per_h"] + 2 * lines["l4-spot"]["spot_usd_per_h"]
    )
    assert entry["ceiling_monthly_usd"] == pytest.approx(expected, abs=0.01)
    # The stack's autoscaled ceiling is the models' plus the model store's monthly cost.
    store = estimate.cost.get("model_store_usd", 0.0)
    assert estimate.cost["autoscaled_ceiling_monthly_usd"] == pytest.approx(expected + store, abs=0.01)
    assert estimate.budget["checked"] == "estimate"  # advisory: the planned estimate


def test_a_mandatory_budget_is_checked_against_the_autoscaled_ceiling(plan: Plan) -> None:
    config = plan.config.model_copy(
        update={"budget": plan.config.budget.model_copy(update={"enforcement": "mandatory"})}
    )
    estimate = costing.estimate(config, "us-east-1")
    budget = estimate.budget
    assert budget["checked"] == "autoscaled ceiling"
    assert budget["checked_usd"] == estimate.cost["autoscaled_ceiling_monthly_usd"]
    assert budget["estimate_usd"] < budget["monthly_usd"] < budget["checked_usd"]
    assert estimate.over_mandatory_budget


def test_ceiling_without_autoscaling_is_none(plan: Plan) -> None:
    assert autoscaled_ceiling(plan.config, {"monthly_usd": 10.0, "per_pool": {}}, {}) is None
    assert model_ceilings(plan.config.model_copy(update={"models": []}), "us-east-1") == {}


def test_preview_shows_the_policy_with_the_namespace_unknown(repo_root: Path) -> None:
    preview = run_plan(read_stack_file(repo_root / "stacks", "aws-dev"), "aws-dev", preview=True)
    spec = scaled_object(preview)["spec"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (1, 4)
    reactive, predictive, _ = spec["triggers"]
    assert reactive["metadata"]["query"] == "[unknown]"  # waits for the Namespace resource
    assert reactive["metadata"]["threshold"] == "204.8"
    assert predictive["metadata"]["query"].startswith("sum(llmops:replica_demand:forecast")
