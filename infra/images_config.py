"""`llmops:images`: which vLLM image the models run.

`vllm` is `build` (the stack builds images/vllm/Dockerfile and pushes it to a registry its cloud
kit creates; models run it by digest; the default for a K3s cluster this stack builds on a
cloud with a registry), `upstream` (the pinned stock `vllm/vllm-openai`, with the progress
probe shipped in a ConfigMap; the default elsewhere) or an image reference pinned by tag or
digest (your own build, e.g. pushed by hand as docs/serving-image.md shows).
`vllmBaseDigest` is the digest of the Dockerfile's pinned base tag, a required build input
until images/vllm/base.json records it. Pure: no Pulumi imports.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops.infra.config_block import ConfigBlock
from pydantic import Field

if TYPE_CHECKING:
    from llmops.infra.config import StackConfig

BUILD = "build"
UPSTREAM = "upstream"
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# [registry[:port]/]path, then :tag and/or @sha256:<64 hex> (at least one of them).
_NAME = (
    r"(?:[a-z0-9]+(?:[.-][a-z0-9]+)*(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
)
REFERENCE = re.compile(
    rf"(?P<name>{_NAME})(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]{{0,127}}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?"
)


class ImagesConfig(ConfigBlock):
    """The serving image of every model that names none of its own."""

    vllm: str | None = Field(
        None,
        description="`build`, `upstream` or an image reference pinned by tag or digest; default: build for "
        "a K3s cluster this stack builds on a cloud whose kit has a registry, once the base digest is "
        "known, upstream otherwise ([serving image](serving-image.md))",
    )
    vllm_base_digest: str | None = Field(
        None,
        description="`sha256:` digest of the Dockerfile's pinned base `vllm/vllm-openai` tag; needed by "
        "`vllm: build` until images/vllm/base.json records it",
    )


@dataclass(frozen=True)
class VllmImageChoice:
    mode: str
    """`build`, `upstream` or `reference`."""
    image: str | None = None
    """mode reference: the name (with its tag)."""
    digest: str | None = None
    """mode reference: its digest, if given; mode build: the base digest."""


def default_mode(config: StackConfig) -> str:
    """`build` for a K3s cluster this stack builds on a cloud with a registry, once the base digest is
    known (images.vllmBaseDigest or images/vllm/base.json); `upstream` otherwise
    ([decision 120](decisions/120-serving-image-base-digest.md))."""
    from llmops.components.cloud import kit
    from llmops.infra.config import K3sClusterConfig

    cluster = config.cluster
    if not isinstance(cluster, K3sClusterConfig) or kit(cluster.cloud).image_registry_unavailable is not None:
        return UPSTREAM
    if config.images.vllm_base_digest is None and recorded_base_digest() is None:
        return UPSTREAM
    return BUILD


def recorded_base_digest() -> str | None:
    """The digest images/vllm/base.json records for the pinned tag (None: not read yet, or no checkout)."""
    from llmops.components.serving.serving_image import BASE_FILE, source_context

    context = source_context()
    if context is None:
        return None
    digest = json.loads((context / BASE_FILE).read_text()).get("digest")
    return digest if isinstance(digest, str) else None


def choice(config: StackConfig) -> VllmImageChoice:
    """What `images.vllm` resolves to (after `images_problems` found none)."""
    images = config.images
    value = images.vllm or default_mode(config)
    if value == BUILD:
        return VllmImageChoice(BUILD, digest=images.vllm_base_digest or recorded_base_digest())
    if value == UPSTREAM:
        return VllmImageChoice(UPSTREAM)
    match = REFERENCE.fullmatch(value)
    assert match is not None, "checked by images_problems"
    name = match["name"] + (f":{match['tag']}" if match["tag"] else "")
    return VllmImageChoice("reference", image=name, digest=match["digest"])


def images_problems(config: StackConfig) -> list[tuple[str, Any, str, str]]:
    """(key path, value, problem, fix) for `images`."""
    from llmops.components.cloud import kit
    from llmops.infra.config import K3sClusterConfig

    images = config.images
    problems: list[tuple[str, Any, str, str]] = []
    forms = (
        "use build, upstream, or a reference pinned by tag or digest, "
        "e.g. 'registry.example.com/vllm:v0.33.0'"
    )
    if images.vllm_base_digest is not None and not DIGEST.fullmatch(images.vllm_base_digest):
        problems.append(
            (
                "images.vllmBaseDigest",
                images.vllm_base_digest,
                "is not a sha256 digest",
                "write it as 'sha256:' and 64 lowercase hex digits, as "
                "`docker buildx imagetools inspect docker.io/vllm/vllm-openai:v0.33.0` prints it",
            )
        )
    value = images.vllm
    if value is None or value == UPSTREAM:
        return problems
    if value == BUILD:
        cluster = config.cluster
        if not isinstance(cluster, K3sClusterConfig):
            problems.append(
                (
                    "images.vllm",
                    value,
                    "needs a registry this stack builds; cluster.kind is 'existing'",
                    "set images.vllm: upstream, or the reference of an image you pushed yourself",
                )
            )
            return problems
        cloud = kit(cluster.cloud)
        if cloud.image_registry_unavailable is not None:
            problems.append(
                (
                    "images.vllm",
                    value,
                    f"is not available on {cloud.display_name} yet: {cloud.image_registry_unavailable}",
                    "set images.vllm: upstream, or the reference of an image you pushed yourself",
                )
            )
            return problems
    elif not (match := REFERENCE.fullmatch(value)):
        problems.append(("images.vllm", value, "is not build, upstream or an image reference", forms))
        return problems
    elif match["tag"] is None and match["digest"] is None:
        problems.append(("images.vllm", value, "names no tag or digest, so it can change under you", forms))
        return problems
    elif match["tag"] == "latest" and match["digest"] is None:
        problems.append(("images.vllm", value, "is pinned to 'latest', which moves", forms))
        return problems
    return problems


def build_problems(config: StackConfig) -> list[tuple[str, Any, str, str]]:
    """What `build` (explicit or the default) still needs: the base digest and the Dockerfile."""
    from llmops.components.serving.serving_image import source_context

    if (config.images.vllm or default_mode(config)) != BUILD:
        return []
    if not any(model.image is None for model in config.models):
        return []
    problems: list[tuple[str, Any, str, str]] = []
    if source_context() is None:
        problems.append(
            (
                "images.vllm",
                config.images.vllm or f"{BUILD} (the default)",
                "needs images/vllm/Dockerfile beside the package (a source checkout); this install has none",
                "run from a checkout of the sources, or set images.vllm: upstream or your own reference",
            )
        )
    elif config.images.vllm_base_digest is None and recorded_base_digest() is None:
        problems.append(
            (
                "images.vllmBaseDigest",
                None,
                "is missing; images.vllm: build builds "
                "FROM vllm/vllm-openai:v0.33.0 pinned by digest, and images/vllm/base.json records none",
                "set images.vllmBaseDigest to the digest `docker buildx imagetools inspect "
                "docker.io/vllm/vllm-openai:v0.33.0` prints, or set images.vllm: upstream",
            )
        )
    return problems


def context_path() -> Path:
    from llmops.components.serving.serving_image import source_context

    context = source_context()
    assert context is not None, "checked by build_problems"
    return context
