"""The models' serving image as `llmops:images` chooses it: built and pushed, upstream, or a reference.

With `build`, the cloud kit's registry (`CloudKit.image_registry`) gets the image that
`ServingImage` builds from images/vllm; every model that names no image of its own runs it by
digest, with the progress probe the image ships (no probe ConfigMap).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata

import pulumi
from llmops.components.serving import VllmModelArgs
from llmops.infra.config import K3sClusterConfig, ModelConfig, StackConfig
from llmops.infra.images_config import BUILD, choice, context_path

SERVING_IMAGE = "serving-image"
"""Instance name of the registry and the image build."""


@dataclass(frozen=True)
class ModelImage:
    image: pulumi.Input[str]
    digest: pulumi.Input[str] | None
    probe_in_image: bool


def _package_version() -> str:
    try:
        return metadata.version("llmops")
    except metadata.PackageNotFoundError:
        return "dev"


def _package_source() -> str:
    try:
        urls = metadata.metadata("llmops").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return "unknown"
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("source", "repository", "homepage"):
            return url.strip()
    return "unknown"


def serving_image(config: StackConfig, pools: Sequence[pulumi.Resource]) -> ModelImage | None:
    """The image models without their own run (None: each model's own or the upstream default)."""
    chosen = choice(config)
    if chosen.mode == "reference":
        assert chosen.image is not None
        return ModelImage(chosen.image, chosen.digest, probe_in_image=False)
    if chosen.mode != BUILD or not any(model.image is None for model in config.models):
        return None
    from llmops.components.cloud import kit
    from llmops.components.serving.serving_image import ServingImage, ServingImageArgs

    cluster = config.cluster
    assert isinstance(cluster, K3sClusterConfig), "checked by images_problems"
    registry = kit(cluster.cloud).image_registry(SERVING_IMAGE, pools)
    assert registry is not None and chosen.digest is not None, "checked by images_problems"
    built = ServingImage(
        SERVING_IMAGE,
        ServingImageArgs(
            registry=registry,
            base_digest=chosen.digest,
            context=context_path(),
            version=_package_version(),
            source=_package_source(),
        ),
    )
    pulumi.export("servingImage", built.ref)
    return ModelImage(built.image, built.digest, probe_in_image=True)


def with_image(model: ModelConfig, args: VllmModelArgs, image: ModelImage | None) -> VllmModelArgs:
    """A model that names no image runs the stack's; one that names its own keeps it."""
    if image is None or model.image is not None:
        return args
    return dataclasses.replace(
        args, image=image.image, image_digest=image.digest, probe_in_image=image.probe_in_image
    )
