"""The program under Pulumi's mock engine, for the `local` stack and variations of it."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from llmops.components.serving import vllm_model
from llmops.infra import artifacts
from llmops.infra.config import read_stack_file, split_namespace
from llmops.infra.plan import Plan, PlannedResource, run_plan

from tests.conftest import require_shared

# Kubernetes minor version whose API schema every generated object must satisfy.
KUBERNETES_VERSION = "1.33.0"


@pytest.fixture(scope="module")
def local_plan(repo_root: Path) -> Plan:
    return run_plan(read_stack_file(repo_root / "stacks", "local"), "local")


@pytest.fixture(scope="module")
def preview_plan(repo_root: Path) -> Plan:
    return run_plan(read_stack_file(repo_root / "stacks", "local"), "local", preview=True)


def plan_of(text: str, stack: str = "test") -> Plan:
    import yaml

    document = yaml.safe_load(textwrap.dedent(text))
    return run_plan(split_namespace(f"Pulumi.{stack}.yaml", document["config"]), stack)


def only(plan: Plan, type_token: str) -> PlannedResource:
    found = plan.of_type(type_token)
    assert len(found) == 1, f"expected one {type_token}, got {[r.name for r in found]}"
    return found[0]


def container_of(plan: Plan) -> dict[str, Any]:
    deployment = only(plan, "kubernetes:apps/v1:Deployment")
    (container,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
    return container


def test_local_stack_declares_the_serving_slice(local_plan: Plan) -> None:
    assert local_plan.by_type() == {
        "kubernetes:apps/v1:Deployment": 1,
        "kubernetes:core/v1:ConfigMap": 1,
        "kubernetes:core/v1:Namespace": 1,
        "kubernetes:core/v1:Service": 1,
        "kubernetes:networking.k8s.io/v1:NetworkPolicy": 2,
        "kubernetes:policy/v1:PodDisruptionBudget": 1,
        "llmops:serving:VllmModel": 1,
        "pulumi:providers:kubernetes": 1,
    }


def test_children_are_parented_to_the_component(local_plan: Plan) -> None:
    component = only(local_plan, "llmops:serving:VllmModel")
    children = [r for r in local_plan.resources if r.parent == component.urn]
    assert sorted(r.name for r in children) == [
        "qwen2-5-0-5b-deployment",
        "qwen2-5-0-5b-pdb",
        "qwen2-5-0-5b-progress-probe",
        "qwen2-5-0-5b-service",
    ]


def test_vllm_serve_arguments(local_plan: Plan) -> None:
    container = container_of(local_plan)
    assert container["image"] == "vllm/vllm-openai:v0.33.0"
    assert container["command"] == ["vllm", "serve"]
    assert container["args"] == [
        "Qwen/Qwen2.5-0.5B-Instruct",
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
        "--served-model-name",
        "qwen2.5-0.5b-instruct",
        "--max-model-len",
        "8192",
        "--gpu-memory-utilization",
        "0.85",
        "--enable-prefix-caching",
        "--disable-uvicorn-access-log",
    ]


def test_gpu_and_memory_resources(local_plan: Plan) -> None:
    resources = container_of(local_plan)["resources"]
    assert resources["requests"] == {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"}
    assert resources["limits"] == {"memory": "8Gi", "nvidia.com/gpu": "1"}
    pod = only(local_plan, "kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]
    shm = next(v for v in pod["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": "2Gi"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]


def test_probes_meet_the_detection_budget(local_plan: Plan) -> None:
    container = container_of(local_plan)
    readiness, liveness, startup = (container[k] for k in ("readinessProbe", "livenessProbe", "startupProbe"))
    assert readiness["httpGet"] == {"path": "/health", "port": "http"}
    # A dead replica leaves the Service within ~2 s: failures x period.
    assert readiness["periodSeconds"] * readiness["failureThreshold"] <= 2
    assert readiness["timeoutSeconds"] == 1
    # Liveness is the progress probe: it fails on a silent /metrics (dead or wedged server)
    # and on a hung engine; a dead server restarts within ~5 s: failures x period + timeout.
    assert liveness["exec"]["command"] == [
        "python3",
        "/etc/llmops/probe/progress_probe.py",
        "--stall-seconds",
        "8",
    ]
    assert liveness["periodSeconds"] * liveness["failureThreshold"] + liveness["timeoutSeconds"] <= 5
    # Weight loading gets the configured startup budget (default 1200 s) before liveness applies.
    assert startup["periodSeconds"] * startup["failureThreshold"] == 1200


def test_service_and_pdb_select_the_pods(local_plan: Plan) -> None:
    deployment = only(local_plan, "kubernetes:apps/v1:Deployment").inputs
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = only(local_plan, "kubernetes:core/v1:Service").inputs
    pdb = only(local_plan, "kubernetes:policy/v1:PodDisruptionBudget").inputs
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 8000, "protocol": "TCP", "targetPort": "http"}
    ]
    for selector in (service["spec"]["selector"], pdb["spec"]["selector"]["matchLabels"]):
        assert selector.items() <= pod_labels.items()
    assert pdb["spec"]["maxUnavailable"] == 1
    # Labels a ServiceMonitor selects on.
    assert pod_labels["app.kubernetes.io/name"] == "vllm"
    assert pod_labels["llmops.io/model"] == "qwen2-5-0-5b"


def test_stack_outputs(local_plan: Plan) -> None:
    assert local_plan.outputs == {
        "namespace": "llmops",
        "endpoints": {"qwen2-5-0-5b": "http://qwen2-5-0-5b.llmops.svc.cluster.local:8000/v1"},
    }


def test_preview_leaves_computed_values_unknown(preview_plan: Plan, local_plan: Plan) -> None:
    assert preview_plan.by_type() == local_plan.by_type()
    deployment = only(preview_plan, "kubernetes:apps/v1:Deployment").inputs
    # The namespace name comes from the Namespace resource's output: unknown in a preview.
    assert deployment["metadata"]["namespace"] == "[unknown]"
    assert container_of(preview_plan)["args"] == container_of(local_plan)["args"]
    assert preview_plan.outputs == {"namespace": "[unknown]", "endpoints": "[unknown]"}


def test_inline_kubeconfig_never_reaches_the_plan(tmp_path: Path) -> None:
    token = "sk-very-secret-token-123"
    document = {
        "llmops:cluster": {
            "kind": "existing",
            "kubeconfig": f"apiVersion: v1\nkind: Config\nusers: [{{name: u, user: {{token: {token}}}}}]",
        }
    }
    # In plain text it is refused (tests/infra/test_secrets.py); as a Pulumi secret, the engine hands
    # the program the decrypted text and marks the key secret: the provider input stays masked.
    raw = split_namespace("Pulumi.test.yaml", document, secret_keys=["llmops:cluster"])
    plan = run_plan(raw, "test")
    provider = only(plan, "pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == "[secret]"
    out = artifacts.write(plan, tmp_path)
    assert token not in (out / "plan.json").read_text()


def test_two_models_do_not_collide() -> None:
    plan = plan_of(
        """
        config:
          llmops:cluster: {kind: existing}
          llmops:models:
            - {name: small, source: Qwen/Qwen2.5-0.5B-Instruct}
            - {name: big, source: meta-llama/Llama-3.1-8B-Instruct, tensorParallelSize: 2, replicas: 2}
        """
    )
    deployments = plan.of_type("kubernetes:apps/v1:Deployment")
    names = sorted(d.inputs["metadata"]["name"] for d in deployments)
    assert names == ["big", "small"]
    big = next(d for d in deployments if d.inputs["metadata"]["name"] == "big").inputs
    container = big["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert "--tensor-parallel-size" in container["args"]
    assert big["spec"]["replicas"] == 2
    assert len(artifacts.manifests(plan)) == 11  # namespace + 2 network policies + 4 objects per model


def test_progress_probe_script_is_mounted_from_its_config_map(local_plan: Plan, repo_root: Path) -> None:
    config_map = only(local_plan, "kubernetes:core/v1:ConfigMap").inputs
    script = (repo_root / "images" / "vllm" / "progress_probe.py").read_text()
    assert config_map["data"] == {"progress_probe.py": script}
    pod = only(local_plan, "kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "progress-probe")
    assert volume["configMap"] == {"defaultMode": 0o555, "name": config_map["metadata"]["name"]}
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "progress-probe")
    assert mount == {"mountPath": "/etc/llmops/probe", "name": "progress-probe", "readOnly": True}


def test_progress_probe_off_falls_back_to_health_liveness() -> None:
    plan = plan_of(
        """
        config:
          llmops:cluster: {kind: existing}
          llmops:models:
            - {name: m, source: org/model, progressProbe: false}
        """
    )
    assert plan.of_type("kubernetes:core/v1:ConfigMap") == []
    liveness = container_of(plan)["livenessProbe"]
    assert liveness["httpGet"] == {"path": "/health", "port": "http"}
    assert liveness["periodSeconds"] * liveness["failureThreshold"] + liveness["timeoutSeconds"] <= 5


def test_component_rejects_bad_args_before_creating_anything() -> None:
    from llmops.components.serving import EngineSpec, VllmModel, VllmModelArgs

    args = VllmModelArgs(engine=EngineSpec(model="", tensor_parallel_size=0), namespace="x", replicas=-1)
    with pytest.raises(vllm_model.VllmModelArgsError) as caught:
        VllmModel("Bad_Name", args)
    message = str(caught.value)
    assert "engine.model: '' is empty. Fix: name a Hugging Face repo id or a model path" in message
    assert "engine.tensor_parallel_size: 0 must be >= 1" in message
    assert "replicas: -1 must be >= 0" in message
    assert "name: 'Bad_Name' is not usable as a Kubernetes name" in message


@pytest.mark.parametrize("stack", ["local", "aws-dev", "gcp-dev"])
def test_every_kubernetes_object_matches_its_schema(stack: str, repo_root: Path) -> None:
    plan = run_plan(read_stack_file(repo_root / "stacks", stack), stack)
    documents = artifacts.manifests(plan)
    assert documents, "the plan produced no Kubernetes objects"
    for file_name, document in documents.items():
        if document["kind"] == "HelmRelease":
            continue  # values are checked against each chart's own values in the component tests
        group = document["apiVersion"].split("/")[0]
        if group in CRD_GROUPS:
            schema_error = crd_schema_error(document)
            assert schema_error is None, f"{file_name}: {schema_error}"
            continue
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{file_name}: {exc.message} at {'.'.join(map(str, exc.path))}")


CRD_GROUPS = ("monitoring.coreos.com", "keda.sh", "ray.io", "nvidia.com")
# Kinds whose catalog schema lags the pinned release: the release's own CRD manifest instead.
UPSTREAM_CRDS = {
    (
        "keda.sh",
        "ScaledObject",
    ): "reference/crd-schemas/upstream-crds/keda-v2.20.2/keda.sh_scaledobjects.yaml",
}


def crd_schema_error(document: dict[str, Any]) -> str | None:
    """Validate a custom resource against the CRD catalog's JSON schema in ../shared."""
    import jsonschema

    group, version = document["apiVersion"].split("/")
    upstream = UPSTREAM_CRDS.get((group, document["kind"]))
    if upstream is not None:
        from tests.support.crd import crd_errors

        return "; ".join(crd_errors(document, require_shared(upstream))) or None
    path = require_shared(f"reference/crd-schemas/{group}/{document['kind'].lower()}_{version}.json")
    schema = json.loads(path.read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(document), key=str)
    return "; ".join(f"{e.message} at {'.'.join(map(str, e.path))}" for e in errors) or None


def test_schema_check_catches_a_broken_object(local_plan: Plan) -> None:
    # The checker itself must be able to fail: a probe with a misspelt field is rejected.
    documents = artifacts.manifests(local_plan)
    document = json.loads(json.dumps(documents["deployment.llmops.qwen2-5-0-5b.yaml"]))
    document["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["periodSecond"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
