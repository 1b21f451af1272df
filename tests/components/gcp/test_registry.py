"""The serving image on GCP under the plan's mocks: gcp-dev with `images.vllm: build` runs the real
program; the Artifact Registry repositories, the pools' read grants, the build's push login and the
models' image by digest."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llmops.components.gcp.registry import READER_ROLE, cache_repository_id, repository_id
from llmops.infra import artifacts
from llmops.infra.config import RawStack, read_stack_file
from llmops.infra.plan import MOCK_SECRET_MARKER, Plan, run_plan

REPO = Path(__file__).resolve().parents[3]
STACK = "gcp-dev"
BASE_DIGEST = "sha256:" + "ab" * 32
PROJECT = "my-llmops-project"
IMAGE_REPOSITORY = f"us-central1-docker.pkg.dev/{PROJECT}/gcp-dev-serving-image/vllm"
CACHE_REPOSITORY = f"us-central1-docker.pkg.dev/{PROJECT}/gcp-dev-serving-image-cache/vllm"


def _raw(images: dict[str, Any]) -> RawStack:
    raw = read_stack_file(REPO / "stacks", STACK)
    values = copy.deepcopy(raw.values)
    values["images"] = images
    return RawStack(raw.source, values, raw.secret_keys, raw.other)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return run_plan(_raw({"vllm": "build", "vllmBaseDigest": BASE_DIGEST}), STACK)


def _repositories(plan: Plan) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs for r in plan.of_type("gcp:artifactregistry/repository:Repository")}


def test_the_image_repository_keeps_tags_and_the_newest_images(plan: Plan) -> None:
    image = _repositories(plan)["serving-image-repository"]
    assert image["format"] == "DOCKER"
    assert image["location"] == "us-central1" and image["project"] == PROJECT
    assert image["repositoryId"] == "gcp-dev-serving-image"
    assert image["dockerConfig"] == {"immutableTags": True}
    assert image["cleanupPolicyDryRun"] is False
    policies = {p["id"]: p for p in image["cleanupPolicies"]}
    assert policies["keep-newest"] == {
        "id": "keep-newest",
        "action": "KEEP",
        "mostRecentVersions": {"keepCount": 10},
    }
    assert policies["delete-older"]["action"] == "DELETE"
    assert policies["delete-older"]["condition"] == {"tagState": "ANY"}
    # Google-managed encryption unless a key is named.
    assert "kmsKeyName" not in image


def test_the_build_cache_lives_in_its_own_mutable_repository(plan: Plan) -> None:
    cache = _repositories(plan)["serving-image-cache"]
    assert cache["repositoryId"] == "gcp-dev-serving-image-cache"
    assert "dockerConfig" not in cache  # its one tag is rewritten by every build
    (policy,) = cache["cleanupPolicies"]
    assert policy["action"] == "DELETE" and policy["condition"]["tagState"] == "UNTAGGED"


def test_pool_accounts_read_that_repository_and_nothing_else(plan: Plan) -> None:
    pool_accounts = {
        f"serviceAccount:{r.inputs['accountId']}@{PROJECT}.iam.gserviceaccount.com"
        for r in plan.of_type("gcp:serviceaccount/account:Account")
        if r.name.startswith(("l4-spot", "l4-on-demand"))
    }
    assert len(pool_accounts) == 2
    readers = plan.of_type("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")
    assert {r.inputs["member"] for r in readers} == pool_accounts
    for reader in readers:
        assert reader.inputs["role"] == READER_ROLE
        assert reader.inputs["repository"] == "gcp-dev-serving-image"  # not the cache repository
        assert reader.inputs["location"] == "us-central1"
    # No grant wider than the repository: no other binding names an Artifact Registry role.
    others = [
        r
        for r in plan.resources
        if r.type != "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember"
        and "artifactregistry" in json.dumps(r.inputs.get("role", ""))
    ]
    assert not others, [r.name for r in others]


def test_build_pushes_to_the_repository_with_a_token_login(plan: Plan) -> None:
    (image,) = plan.of_type("docker-build:index:Image")
    inputs = image.inputs
    (tag,) = inputs["tags"]
    assert re.fullmatch(re.escape(IMAGE_REPOSITORY) + r":v0\.33\.0-[0-9a-f]{12}", tag)
    cache = f"{CACHE_REPOSITORY}:buildcache"
    assert inputs["cacheFrom"] == [{"registry": {"ref": cache}}]
    assert inputs["cacheTo"][0]["registry"]["ref"] == cache
    (login,) = inputs["registries"]
    assert login == {
        "address": "us-central1-docker.pkg.dev",
        "username": "oauth2accesstoken",
        "password": "[secret]",
    }


def test_models_run_the_pushed_image_by_digest(plan: Plan) -> None:
    ref = plan.outputs["servingImage"]
    assert re.fullmatch(re.escape(IMAGE_REPOSITORY) + r"@sha256:[0-9a-f]{64}", ref)
    deployments = [d for d in plan.of_type("kubernetes:apps/v1:Deployment") if d.name.endswith("-deployment")]
    assert deployments
    for deployment in deployments:
        (vllm,) = [
            c for c in deployment.inputs["spec"]["template"]["spec"]["containers"] if c["name"] == "vllm"
        ]
        assert vllm["image"] == ref


def test_the_access_token_stays_secret(plan: Plan, tmp_path: Path) -> None:
    text = (artifacts.write(plan, tmp_path) / "plan.json").read_text()
    assert "oauth2accesstoken" in text  # the login is in the plan, so the check below can fail
    assert MOCK_SECRET_MARKER not in text


def test_preview_knows_the_login_but_not_the_tags() -> None:
    preview = run_plan(_raw({"vllm": "build", "vllmBaseDigest": BASE_DIGEST}), STACK, preview=True)
    (image,) = preview.of_type("docker-build:index:Image")
    assert image.inputs["registries"][0]["address"] == "us-central1-docker.pkg.dev"
    assert preview.of_type("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")


def test_upstream_builds_no_registry() -> None:
    upstream = run_plan(_raw({"vllm": "upstream"}), STACK)
    assert not upstream.of_type("gcp:artifactregistry/repository:Repository")
    assert not upstream.of_type("docker-build:index:Image")


@settings(max_examples=60, deadline=None)
@given(stack=st.text(min_size=1, max_size=80), name=st.text(min_size=1, max_size=40))
def test_repository_ids_are_valid(stack: str, name: str) -> None:
    rid = repository_id(stack, name)
    assert re.fullmatch(r"[a-z][a-z0-9-]{0,62}", rid), rid
    assert not rid.endswith("-")
    # The cache repository's id is derived from it and valid too.
    cache = cache_repository_id(rid)
    assert re.fullmatch(r"[a-z][a-z0-9-]{0,62}", cache) and cache.endswith("-cache") and cache != rid
