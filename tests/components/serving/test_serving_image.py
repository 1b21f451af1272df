"""The serving image under the plan's mocks: aws-dev with `images.vllm: build` runs the real program;
the build's inputs, the ECR repository, the pull grants and the models' image by digest."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from llmops.components.serving.serving_image import context_hash
from llmops.infra import program
from llmops.infra.config import RawStack, parse, read_stack_file

from tests.components.aws.stack import REPO, STACK
from tests.components.k3s.mocks import RecordingMocks, run_program

# A made-up digest, for the mocks only: the build never runs here.
BASE_DIGEST = "sha256:" + "ab" * 32
CONTEXT = REPO / "images" / "vllm"


def _values(images: dict[str, Any]) -> RawStack:
    raw = read_stack_file(REPO / "stacks", STACK)
    values = copy.deepcopy(raw.values)
    values["images"] = images
    return RawStack(raw.source, values, raw.secret_keys, raw.other)


def _build() -> dict[str, Any]:
    program.run(parse(_values({"vllm": "build", "vllmBaseDigest": BASE_DIGEST})))
    return {}


@pytest.fixture(scope="module")
def planned() -> RecordingMocks:
    mocks, _ = run_program(_build)
    return mocks


def _plan_digest() -> str:
    # infra.plan's made-up digest for the build resource `serving-image-build`.
    return "sha256:" + hashlib.sha256(b"llmops-plan-image-serving-image-build").hexdigest()


def _repository_url() -> str:
    return "000000000000.dkr.ecr.us-east-1.amazonaws.com/serving-image-repository"


def test_build_inputs(planned: RecordingMocks) -> None:
    (image,) = planned.of_type("docker-build:index:Image")
    inputs = image.inputs
    assert inputs["context"] == {"location": str(CONTEXT)}
    assert inputs["dockerfile"] == {"location": str(CONTEXT / "Dockerfile")}
    assert inputs["platforms"] == ["linux/amd64"]
    assert inputs["push"] is True
    cache = f"{_repository_url()}:buildcache"
    assert inputs["cacheFrom"] == [{"registry": {"ref": cache}}]
    (cache_to,) = inputs["cacheTo"]
    wanted = {"ref": cache, "mode": "max", "imageManifest": True, "ociMediaTypes": True}
    assert {key: cache_to["registry"].get(key) for key in wanted} == wanted
    assert cache_to["registry"].get("ignoreError") is not True
    (tag,) = inputs["tags"]
    assert re.fullmatch(re.escape(_repository_url()) + r":v0\.33\.0-[0-9a-f]{12}", tag)
    assert inputs["buildArgs"]["VLLM_BASE_DIGEST"] == BASE_DIGEST
    assert set(inputs["buildArgs"]) == {"VLLM_BASE_DIGEST", "LLMOPS_VERSION", "LLMOPS_SOURCE"}
    (login,) = inputs["registries"]
    assert login["address"] == "https://000000000000.dkr.ecr.us-east-1.amazonaws.com"
    assert login["username"] == "AWS"
    assert "registries" in image.secret_inputs, "the registry password must reach the build as a secret"


def test_the_plan_reports_digest_and_ref(planned: RecordingMocks) -> None:
    from llmops.infra.plan import PlanMocks

    (image,) = planned.of_type("docker-build:index:Image")
    args = type("Args", (), {"typ": image.type, "name": image.name, "inputs": image.inputs})()
    _, outputs = PlanMocks(preview=False).new_resource(args)  # type: ignore[arg-type]
    assert outputs["digest"] == _plan_digest()
    assert outputs["ref"] == f"{image.inputs['tags'][0]}@{_plan_digest()}"


def test_a_bad_base_digest_is_refused_before_any_resource() -> None:
    from llmops.components.cloud import ImageRegistry
    from llmops.components.serving.serving_image import ServingImageArgs, validate

    registry = ImageRegistry.__new__(ImageRegistry)
    problems = validate(ServingImageArgs(registry=registry, base_digest="sha256:ABC", context=CONTEXT))
    assert problems == ["base_digest: 'sha256:ABC' is not 'sha256:' and 64 lowercase hex digits"]
    assert validate(ServingImageArgs(registry=registry, base_digest=BASE_DIGEST, context=CONTEXT)) == []


def test_tag_follows_the_sources(tmp_path: Path) -> None:
    args = {"VLLM_BASE_DIGEST": BASE_DIGEST}
    assert context_hash(CONTEXT, args) == context_hash(CONTEXT, dict(args))
    assert context_hash(CONTEXT, args) != context_hash(CONTEXT, {"VLLM_BASE_DIGEST": "sha256:" + "cd" * 32})
    for path in CONTEXT.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    before = context_hash(tmp_path, args)
    (tmp_path / "Dockerfile").write_text((tmp_path / "Dockerfile").read_text() + "# changed\n")
    assert context_hash(tmp_path, args) != before


def test_ecr_repository_settings(planned: RecordingMocks) -> None:
    (repository,) = planned.of_type("aws:ecr/repository:Repository")
    inputs = repository.inputs
    assert inputs["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert inputs["imageTagMutabilityExclusionFilters"] == [
        {"filter": "buildcache", "filterType": "WILDCARD"}
    ]
    assert inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert inputs["encryptionConfigurations"] == [{"encryptionType": "KMS"}]
    assert inputs["forceDelete"] is False
    (lifecycle,) = planned.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    (rule,) = json.loads(lifecycle.inputs["policy"])["rules"]
    assert rule["selection"] == {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 10}
    assert rule["action"] == {"type": "expire"}


def test_node_roles_pull_from_exactly_that_repository(planned: RecordingMocks) -> None:
    grants = [r for r in planned.of_type("aws:iam/rolePolicy:RolePolicy") if "-pull-" in r.name]
    pool_roles = {
        f"{r.name}-id"
        for r in planned.of_type("aws:iam/role:Role")
        if r.name.startswith(tuple(_pool_names()))
    }
    assert grants and {g.inputs["role"] for g in grants} == pool_roles
    arn = "arn:aws:ecr:us-east-1:000000000000:repository/serving-image-repository"
    for grant in grants:
        statements = json.loads(grant.inputs["policy"])["Statement"]
        pull = next(s for s in statements if s["Sid"] == "PullServingImage")
        assert pull["Resource"] == arn
        assert all(not a.endswith("*") for a in pull["Action"])
        login = next(s for s in statements if s["Sid"] == "RegistryLogin")
        assert login["Action"] == "ecr:GetAuthorizationToken"


def _pool_names() -> list[str]:
    return [pool["name"] for pool in read_stack_file(REPO / "stacks", STACK).values["pools"]]


def test_models_and_pre_pull_run_the_built_image_by_digest(planned: RecordingMocks) -> None:
    ref = f"{_repository_url()}@{_plan_digest()}"
    deployments = [
        d for d in planned.of_type("kubernetes:apps/v1:Deployment") if d.name.endswith("-deployment")
    ]
    assert deployments
    for deployment in deployments:
        pod = deployment.inputs["spec"]["template"]["spec"]
        (vllm,) = [c for c in pod["containers"] if c["name"] == "vllm"]
        assert vllm["image"] == ref
        assert vllm["livenessProbe"]["exec"]["command"][0] == "llmops-progress-probe"
        assert all(c["image"] == ref for c in pod.get("initContainers", []) if c["name"] == "wait-for-model")
        assert not any(v["name"] == "progress-probe" for v in pod["volumes"])
    assert not [c for c in planned.of_type("kubernetes:core/v1:ConfigMap") if "progress-probe" in c.name]
    (daemonset,) = [d for d in planned.of_type("kubernetes:apps/v1:DaemonSet") if "pre-pull" in d.name]
    pulls = daemonset.inputs["spec"]["template"]["spec"]["initContainers"]
    assert {c["image"] for c in pulls} == {ref}
    for job in planned.of_type("kubernetes:batch/v1:Job"):
        for container in job.inputs["spec"]["template"]["spec"]["containers"]:
            assert container["image"] == ref


def test_upstream_keeps_the_stock_image_and_the_probe_config_map() -> None:
    def build() -> dict[str, Any]:
        program.run(parse(_values({"vllm": "upstream"})))
        return {}

    mocks, _ = run_program(build)
    assert not mocks.of_type("docker-build:index:Image")
    assert not mocks.of_type("aws:ecr/repository:Repository")
    assert [c for c in mocks.of_type("kubernetes:core/v1:ConfigMap") if "progress-probe" in c.name]


def test_a_reference_is_run_as_given() -> None:
    reference = "registry.example.com/team/vllm:v0.33.0-1@sha256:" + "12" * 32

    def build() -> dict[str, Any]:
        program.run(parse(_values({"vllm": reference})))
        return {}

    mocks, _ = run_program(build)
    assert not mocks.of_type("docker-build:index:Image")
    deployment = next(
        d for d in mocks.of_type("kubernetes:apps/v1:Deployment") if d.name.endswith("-deployment")
    )
    (vllm,) = [c for c in deployment.inputs["spec"]["template"]["spec"]["containers"] if c["name"] == "vllm"]
    assert vllm["image"] == reference
