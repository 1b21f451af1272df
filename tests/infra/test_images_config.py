"""`llmops:images`: the forms it takes, its defaults, and a key-path error for each bad form."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from llmops.infra.config import ConfigError, RawStack, StackConfig, parse, read_stack_file
from llmops.infra.images_config import choice, default_mode

REPO = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "ab" * 32


def _stack(name: str, images: dict[str, Any] | None) -> StackConfig:
    raw = read_stack_file(REPO / "stacks", name)
    values = copy.deepcopy(raw.values)
    if images is not None:
        values["images"] = images
    return parse(RawStack(raw.source, values, raw.secret_keys, raw.other))


def _problems(name: str, images: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        _stack(name, images)
    return [str(p) for p in caught.value.problems]


def test_build_with_a_digest_is_the_default_on_aws() -> None:
    config = _stack("aws-dev", {"vllmBaseDigest": DIGEST})
    assert default_mode(config) == "build"
    assert choice(config).mode == "build" and choice(config).digest == DIGEST


def test_build_with_a_digest_is_the_default_on_gcp_too() -> None:
    config = _stack("gcp-dev", {"vllmBaseDigest": DIGEST})
    assert default_mode(config) == "build"
    assert choice(config).mode == "build"


def test_azure_stays_upstream_until_the_acr_provider_checksum_is_recorded() -> None:
    assert default_mode(_stack("azure-dev", {"vllmBaseDigest": DIGEST})) == "upstream"


def test_without_a_known_digest_the_default_is_upstream() -> None:
    # images/vllm/base.json records no digest yet; a recorded one would make build the default.
    assert default_mode(_stack("aws-dev", None)) == "upstream"


def test_existing_clusters_default_to_upstream() -> None:
    assert choice(_stack("local", None)).mode == "upstream"


def test_a_reference_keeps_its_tag_and_digest() -> None:
    config = _stack("local", {"vllm": f"registry.example.com:5000/team/vllm:v1@{DIGEST}"})
    chosen = choice(config)
    assert (chosen.mode, chosen.image, chosen.digest) == (
        "reference",
        "registry.example.com:5000/team/vllm:v1",
        DIGEST,
    )


@pytest.mark.parametrize(
    ("stack", "images", "expected"),
    [
        pytest.param(
            "aws-dev",
            {"vllm": "build"},
            "images.vllmBaseDigest: null is missing; images.vllm: build builds FROM "
            "vllm/vllm-openai:v0.33.0 pinned by digest",
            id="build-without-digest",
        ),
        pytest.param(
            "aws-dev",
            {"vllm": "build", "vllmBaseDigest": "sha256:abc"},
            "images.vllmBaseDigest: 'sha256:abc' is not a sha256 digest. Fix: write it as 'sha256:'",
            id="bad-digest",
        ),
        pytest.param(
            "azure-dev",
            {"vllm": "build", "vllmBaseDigest": DIGEST},
            "images.vllm: 'build' is not available on Azure yet: the nodes pull from ACR through "
            "acr-credential-provider v1.34.0, whose SHA-256 is not recorded yet",
            id="build-on-azure-without-the-provider-checksum",
        ),
        pytest.param(
            "local",
            {"vllm": "build", "vllmBaseDigest": DIGEST},
            "images.vllm: 'build' needs a registry this stack builds; cluster.kind is 'existing'. "
            "Fix: set images.vllm: upstream",
            id="build-on-existing",
        ),
        pytest.param(
            "local",
            {"vllm": "registry.example.com/vllm"},
            "images.vllm: 'registry.example.com/vllm' names no tag or digest",
            id="no-tag",
        ),
        pytest.param(
            "local",
            {"vllm": "vllm/vllm-openai:latest"},
            "images.vllm: 'vllm/vllm-openai:latest' is pinned to 'latest', which moves",
            id="latest",
        ),
        pytest.param(
            "local",
            {"vllm": "Build It!"},
            "images.vllm: 'Build It!' is not build, upstream or an image reference. Fix: use build",
            id="garbage",
        ),
        pytest.param(
            "local",
            {"vlm": "upstream"},
            "images.vlm",
            id="unknown-key",
        ),
    ],
)
def test_bad_forms_are_key_path_errors(stack: str, images: dict[str, Any], expected: str) -> None:
    problems = _problems(stack, images)
    assert any(expected in p for p in problems), problems
