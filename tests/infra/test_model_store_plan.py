"""The model store in the plan: aws-dev builds it by default; bad `modelStore` input is named
by key path before any resource exists."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
from llmops.infra import artifacts
from llmops.infra.config import ConfigError, read_stack_file
from llmops.infra.plan import Plan, PlannedResource, run_plan

from tests.components.observability.test_helm_values import chart_defaults, walk
from tests.infra.test_config import parse_text


@pytest.fixture(scope="module")
def plan(repo_root: Path) -> Plan:
    return run_plan(read_stack_file(repo_root / "stacks", "aws-dev"), "aws-dev")


def only(plan: Plan, type_token: str) -> PlannedResource:
    (found,) = plan.of_type(type_token)
    return found


def test_aws_dev_has_an_encrypted_efs_with_a_mount_target_per_subnet(plan: Plan) -> None:
    fs = only(plan, "aws:efs/fileSystem:FileSystem")
    assert fs.inputs["encrypted"] is True and fs.inputs["throughputMode"] == "elastic"
    subnets = plan.of_type("aws:ec2/subnet:Subnet")
    targets = plan.of_type("aws:efs/mountTarget:MountTarget")
    assert len(targets) == len(subnets) >= 2


def test_nfs_is_admitted_only_from_the_nodes(plan: Plan) -> None:
    (group,) = [
        g for g in plan.of_type("aws:ec2/securityGroup:SecurityGroup") if g.name == "model-store-efs-sg"
    ]
    (rule,) = group.inputs["ingress"]
    assert (rule["fromPort"], rule["toPort"]) == (2049, 2049)
    assert rule["securityGroups"] == ["aws-dev-nodes-id"]  # the plan's mock id of the nodes' group
    assert not rule.get("cidrBlocks")


def test_the_csi_release_values_exist_in_the_chart(plan: Plan) -> None:
    from llmops.components.addons.charts import AWS_EFS_CSI_DRIVER

    release = next(
        r for r in plan.of_type("kubernetes:helm.sh/v3:Release") if r.name == "model-store-efs-csi"
    )
    assert (release.inputs["chart"], release.inputs["version"]) == ("aws-efs-csi-driver", "4.4.1")
    exceptions = {"node.resources": "free-form", "node.nodeSelector": "free-form"}
    problems, _ = walk(release.inputs["values"], chart_defaults(AWS_EFS_CSI_DRIVER), exceptions)
    assert problems == []


def test_claim_job_replicas_and_pre_pull(plan: Plan) -> None:
    documents = artifacts.manifests(plan)
    by_kind: dict[str, list[dict]] = {}
    for document in documents.values():
        by_kind.setdefault(document["kind"], []).append(document)
    for kind in ("PersistentVolume", "PersistentVolumeClaim", "Job", "DaemonSet", "Deployment"):
        for document in by_kind[kind]:
            kubernetes_validate.validate(document, "1.33.0", strict=True)
    (claim,) = by_kind["PersistentVolumeClaim"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    (job,) = by_kind["Job"]
    job_pod = job["spec"]["template"]["spec"]
    assert job_pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert job_pod["containers"][0]["command"][-4:] == ["--revision", "main", "--owner", "qwen2-5-0-5b"]
    (deployment,) = by_kind["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["initContainers"][0]["name"] == "wait-for-model"
    (store_mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "model-store"]
    assert store_mount["readOnly"] is True
    assert pod["containers"][0]["args"][0] == "/models/Qwen/Qwen2.5-0.5B-Instruct/main"
    (daemon_set,) = by_kind["DaemonSet"]
    pulled = [c["image"] for c in daemon_set["spec"]["template"]["spec"]["initContainers"]]
    assert pulled == [pod["containers"][0]["image"]]


def test_the_plan_shows_the_store_cost_and_start_up(plan: Plan) -> None:
    summary = plan.outputs["modelStore"]
    assert summary["kind"] == "efs" and summary["throughputMode"] == "elastic"
    assert summary["monthlyCost"]["monthly_usd"] > 0
    start = summary["startUp"]["qwen2-5-0-5b"]
    assert start["withStoreS"] < start["withoutStoreS"]


EXISTING = "  llmops:cluster: {kind: existing}\n"
MODEL = "  llmops:models:\n    - {name: m, source: meta-llama/Llama-3.1-8B-Instruct%s}\n"


def problems_of(body: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_text("config:\n" + body)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            EXISTING + MODEL % "" + "  llmops:modelStore: {kind: nfs}\n",
            [
                "modelStore.server: is required with kind nfs. Fix: set modelStore.server, e.g. '10.0.0.5', or use kind pvc with an existing claim",
                "modelStore.path: is required with kind nfs. Fix: set modelStore.path, e.g. '/exports/models', or use kind pvc with an existing claim",
            ],
        ),
        (
            EXISTING + MODEL % "" + "  llmops:modelStore: {kind: pvc}\n",
            [
                "modelStore.claim: is required with kind pvc. Fix: name an existing ReadWriteMany claim in the stack's namespace, or use kind nfs"
            ],
        ),
        (
            EXISTING + MODEL % "" + "  llmops:modelStore: {kind: efs}\n",
            [
                "modelStore.kind: 'efs' needs a K3s cluster this stack builds on a cloud whose store is efs (cluster.kind k3s). Fix: use kind nfs (server, path), kind pvc (claim) or kind none"
            ],
        ),
        (
            EXISTING + MODEL % ", revision: 'v1..2'",
            [
                "models[0].revision: 'v1..2' is not a git branch, tag or commit name. Fix: use a branch such as 'main', a tag, or a 40-character commit id"
            ],
        ),
        (
            EXISTING + MODEL % "" + "  llmops:modelStore: {kind: pvc, claim: models, sizeGi: 10}\n",
            [
                "modelStore.sizeGi: 10 is smaller than the models on it (15.0 GiB: meta-llama/Llama-3.1-8B-Instruct@main 15.0 GiB). Fix: set sizeGi to at least 15, or serve fewer models from the store"
            ],
        ),
    ],
    ids=["nfs-without-server", "pvc-without-claim", "efs-on-existing", "bad-revision", "store-too-small"],
)
def test_bad_store_input_names_the_key_path(body: str, expected: list[str]) -> None:
    assert problems_of(body) == expected


def test_an_nfs_store_on_an_existing_cluster_plans(repo_root: Path) -> None:
    from llmops.infra.config import RawStack

    raw = RawStack(
        source="nfs-test",
        values={
            "cluster": {"kind": "existing"},
            "models": [{"name": "m", "source": "Qwen/Qwen2.5-0.5B-Instruct"}],
            "modelStore": {"kind": "nfs", "server": "10.0.0.5", "path": "/exports/models"},
        },
        secret_keys=frozenset(),
        other={},
    )
    plan = run_plan(raw, "nfs-test")
    assert only(plan, "llmops:addons:NfsModelStore")
    assert only(plan, "kubernetes:batch/v1:Job")
    assert plan.of_type("kubernetes:apps/v1:DaemonSet") == []  # no pools: nothing to pre-pull onto


def test_the_forecast_uses_the_estimate_unless_startup_s_is_set() -> None:
    from llmops.components.serving import DemandForecast, EngineSpec, VllmModelArgs
    from llmops.infra.model_store import startup_estimate_s, with_estimated_startup

    forecast = DemandForecast(prefill_s_per_token=1e-4, decode_s_per_token=1e-3, startup_s=180)
    args = VllmModelArgs(
        engine=EngineSpec(model="meta-llama/Llama-3.1-8B-Instruct"), namespace="x", demand_forecast=forecast
    )
    store = "  llmops:modelStore: {kind: pvc, claim: models}\n"
    on_store = parse_text("config:\n" + EXISTING + MODEL % "" + store)
    from_hub = parse_text("config:\n" + EXISTING + MODEL % "")
    estimated = startup_estimate_s(on_store, on_store.models[0])
    assert estimated is not None and estimated < startup_estimate_s(from_hub, from_hub.models[0])  # type: ignore[operator]
    adjusted = with_estimated_startup(on_store, on_store.models[0], args).demand_forecast
    assert adjusted is not None and adjusted.startup_s == estimated
    pinned = parse_text("config:\n" + EXISTING + MODEL % ", startupS: 300" + store)
    assert with_estimated_startup(pinned, pinned.models[0], args).demand_forecast == forecast
