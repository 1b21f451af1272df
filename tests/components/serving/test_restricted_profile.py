"""Every pod llmops puts in the serving namespace meets the restricted Pod Security Standard, which
the namespace enforces (tests/support/pod_security_standard.py, from the published profile)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from llmops.components.serving.pod_security import RESTRICTED_NAMESPACE_LABELS
from llmops.infra.config import available_stacks, read_stack_file
from llmops.infra.plan import Plan, run_plan

from tests.conftest import REPO_ROOT
from tests.infra.test_plan import plan_of
from tests.support.pod_security_standard import pod_spec_of, restricted_problems

STACKS = available_stacks(REPO_ROOT / "stacks")

EVERYTHING_STACK = """
config:
  llmops:cluster: {kind: existing}
  llmops:models:
    - name: m
      source: Qwen/Qwen2.5-0.5B-Instruct
      apiKeySecret: m-api-key
      hfTokenSecret: m-hf-token
      writablePaths: [{path: /var/cache/extra, sizeLimit: 1Gi}]
"""


def serving_pods(plan: Plan, namespace: str) -> dict[str, Any]:
    pods = {}
    for resource in plan.resources:
        pod = pod_spec_of(resource.type, resource.inputs)
        if pod is not None and (resource.inputs.get("metadata") or {}).get("namespace") == namespace:
            pods[f"{resource.type} {resource.name}"] = pod
    return pods


@pytest.fixture(scope="module", params=STACKS)
def stack_plan(request: pytest.FixtureRequest) -> tuple[str, Plan]:
    stack = str(request.param)
    return stack, run_plan(read_stack_file(REPO_ROOT / "stacks", stack), stack)


def _namespace(plan: Plan) -> dict[str, Any]:
    (created,) = [
        r.inputs["metadata"]
        for r in plan.of_type("kubernetes:core/v1:Namespace")
        if (r.inputs["metadata"].get("labels") or {}).get("app.kubernetes.io/managed-by") == "llmops"
        and "pod-security.kubernetes.io/enforce" in (r.inputs["metadata"].get("labels") or {})
        and r.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    ]
    return created


def test_the_serving_namespace_enforces_restricted_and_every_pod_in_it_complies(
    stack_plan: tuple[str, Plan],
) -> None:
    stack, plan = stack_plan
    namespace = _namespace(plan)
    labels = namespace["labels"]
    for key, value in RESTRICTED_NAMESPACE_LABELS.items():
        assert labels[key] == value
    assert labels["pod-security.kubernetes.io/enforce-version"] == "v1.33"
    pods = serving_pods(plan, namespace["name"])
    assert any("Deployment" in name for name in pods), stack
    problems = {name: restricted_problems(pod) for name, pod in pods.items()}
    assert problems == {name: [] for name in pods}
    if stack == "aws-dev":
        # The model store's pods: the download Job, the image pre-pull, the model's wait for the store.
        kinds = {name.split()[0] for name in pods}
        assert kinds == {
            "kubernetes:apps/v1:Deployment",
            "kubernetes:batch/v1:Job",
            "kubernetes:apps/v1:DaemonSet",
        }
        (deployment,) = plan.of_type("kubernetes:apps/v1:Deployment")
        assert deployment.inputs["spec"]["template"]["spec"]["initContainers"]


def test_secrets_and_extra_writable_paths_stay_restricted() -> None:
    plan = plan_of(EVERYTHING_STACK)
    pods = serving_pods(plan, _namespace(plan)["name"])
    assert pods and all(restricted_problems(pod) == [] for pod in pods.values())


@pytest.fixture(scope="module")
def model_pod() -> dict[str, Any]:
    plan = plan_of(EVERYTHING_STACK)
    (deployment,) = plan.of_type("kubernetes:apps/v1:Deployment")
    return deployment.inputs["spec"]["template"]["spec"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda p: p["containers"][0]["securityContext"]["capabilities"].update(drop=[]),
            "capabilities.drop",
        ),
        (
            lambda p: p["containers"][0]["securityContext"].pop("allowPrivilegeEscalation"),
            "allowPrivilegeEscalation",
        ),
        (
            lambda p: (
                p["securityContext"].pop("runAsNonRoot"),
                p["containers"][0]["securityContext"].pop("runAsNonRoot"),
            ),
            "runAsNonRoot",
        ),
        (
            lambda p: (
                p["securityContext"].pop("seccompProfile"),
                p["containers"][0]["securityContext"].pop("seccompProfile"),
            ),
            "seccompProfile",
        ),
        (
            lambda p: p["volumes"].append({"name": "host", "hostPath": {"path": "/"}}),
            "not an allowed volume type",
        ),
        (
            lambda p: p["containers"][0]["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]),
            "capabilities.add",
        ),
        (lambda p: p.update(hostNetwork=True), "spec.hostNetwork"),
        (lambda p: p["containers"][0]["securityContext"].update(runAsUser=0), "runAsUser: 0"),
    ],
)
def test_the_checker_catches_each_broken_control(
    model_pod: dict[str, Any], change: Any, problem: str
) -> None:
    broken = copy.deepcopy(model_pod)
    change(broken)
    assert any(problem in line for line in restricted_problems(broken)), restricted_problems(broken)
