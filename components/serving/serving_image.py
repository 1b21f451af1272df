"""The serving image (images/vllm/Dockerfile), built with BuildKit and pushed to the stack's registry.

`ServingImage` builds `linux/amd64` from the Dockerfile's folder, pushes to the repository the
cloud kit provides (`CloudKit.image_registry`), caches layers in that repository, and exposes
the pushed image by digest: `image` (the repository) and `digest` (`sha256:...`), which
`VllmModelArgs.image`/`image_digest` and the pre-pull DaemonSet take as they are.

The tag is the base tag plus a hash of the build context and build arguments, so the same
sources give the same tag (the repository's tags are immutable) and changed sources a new one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_docker_build as docker_build
from llmops.components.cloud import ImageRegistry

BASE_FILE = "base.json"
DIGEST_PATTERN = re.compile(r"sha256:[0-9a-f]{64}")
PLATFORMS: tuple[docker_build.Platform, ...] = (docker_build.Platform.LINUX_AMD64,)


def source_context() -> Path | None:
    """`images/vllm` of a source checkout (the folder beside the package's `components/`), if present."""
    folder = Path(__file__).resolve().parents[2] / "images" / "vllm"
    return folder if (folder / "Dockerfile").is_file() else None


@dataclass(frozen=True)
class VllmBase:
    """The pinned upstream base: images/vllm/base.json."""

    image: str
    tag: str
    vllm_version: str
    digest: str | None


def read_base(context: Path) -> VllmBase:
    data = json.loads((context / BASE_FILE).read_text())
    return VllmBase(
        image=data["image"], tag=data["tag"], vllm_version=data["vllm_version"], digest=data.get("digest")
    )


def _bytecode(path: Path) -> bool:
    return "__pycache__" in path.parts or path.suffix == ".pyc"


def context_hash(context: Path, build_args: Mapping[str, str]) -> str:
    """Hash of every file in the build context (names and bytes) and the build arguments.

    The same sources give the same tag whether they come from a checkout or the installed wheel:
    file modes are left out (the wheel drops the executable bit; the Dockerfile sets each mode
    with `COPY --chmod`), and so are bytecode caches (pip compiles the .py files it installs)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if p.is_file() and not _bytecode(p)):
        digest.update(path.relative_to(context).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    digest.update(json.dumps(dict(sorted(build_args.items()))).encode())
    return digest.hexdigest()


@dataclass(frozen=True, kw_only=True)
class ServingImageArgs:
    registry: ImageRegistry
    base_digest: str
    """`sha256:` digest of the pinned base tag (the Dockerfile's required VLLM_BASE_DIGEST)."""
    context: Path
    """The Dockerfile's folder (images/vllm)."""
    version: str = "dev"
    """The package version, the image's `org.opencontainers.image.version` label."""
    source: str = "unknown"
    """Where the sources are, the `org.opencontainers.image.source` label."""
    platforms: Sequence[docker_build.Platform] = field(default=PLATFORMS)


def validate(args: ServingImageArgs) -> list[str]:
    problems: list[str] = []
    if not DIGEST_PATTERN.fullmatch(args.base_digest):
        problems.append(f"base_digest: {args.base_digest!r} is not 'sha256:' and 64 lowercase hex digits")
    if not (args.context / "Dockerfile").is_file():
        problems.append(f"context: {args.context} has no Dockerfile")
    return problems


class ServingImage(pulumi.ComponentResource):
    """The vLLM serving image, built and pushed; `image` + `digest` name exactly what was pushed."""

    image: pulumi.Output[str]
    digest: pulumi.Output[str]
    ref: pulumi.Output[str]
    """`<repository>@sha256:...`, the reference a pod runs."""

    def __init__(self, name: str, args: ServingImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        problems = validate(args)
        if problems:
            raise ValueError(f"ServingImage {name}: " + "; ".join(problems))
        super().__init__("llmops:serving:ServingImage", name, None, opts)
        base = read_base(args.context)
        build_args = {
            "VLLM_BASE_DIGEST": args.base_digest,
            "LLMOPS_VERSION": args.version,
            "LLMOPS_SOURCE": args.source,
        }
        self.tag = f"{base.tag}-{context_hash(args.context, build_args)[:12]}"
        registry = args.registry
        cache_repository = registry.cache_repository_url or registry.repository_url
        cache_ref = pulumi.Output.concat(cache_repository, ":", registry.cache_tag)
        self.build = docker_build.Image(
            f"{name}-build",
            context=docker_build.BuildContextArgs(location=str(args.context)),
            dockerfile=docker_build.DockerfileArgs(location=str(args.context / "Dockerfile")),
            platforms=list(args.platforms),
            build_args=build_args,
            tags=[pulumi.Output.concat(registry.repository_url, ":", self.tag)],
            push=True,
            registries=[
                docker_build.RegistryArgs(
                    address=registry.address, username=registry.username, password=registry.password
                )
            ],
            cache_from=[
                docker_build.CacheFromArgs(registry=docker_build.CacheFromRegistryArgs(ref=cache_ref))
            ],
            # Every layer (mode max) as an OCI image manifest, the form ECR stores.
            cache_to=[
                docker_build.CacheToArgs(
                    registry=docker_build.CacheToRegistryArgs(
                        ref=cache_ref,
                        mode=docker_build.CacheMode.MAX,
                        image_manifest=True,
                        oci_media_types=True,
                    )
                )
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.image = registry.repository_url
        self.digest = self.build.digest
        self.ref = pulumi.Output.concat(registry.repository_url, "@", self.build.digest)
        self.register_outputs({"image": self.image, "digest": self.digest, "ref": self.ref})
