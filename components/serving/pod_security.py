"""Locked-down serving pods: non-root, read-only root filesystem, writable caches only (pure Python).

vLLM and the libraries under it write to a handful of places at start-up and while serving. With
the root filesystem read-only each of them points into a writable volume through its environment
variable, checked against the pinned vLLM release (docs/decisions/062-serving-pod-security.md):

- vLLM: `VLLM_CACHE_ROOT` (torch.compile artefacts in `torch_compile_cache/`, assets) and
  `VLLM_CONFIG_ROOT`, both derived from `XDG_CACHE_HOME`/`XDG_CONFIG_HOME` when unset;
  `VLLM_RPC_BASE_PATH` (IPC sockets between the API server and the engine) defaults to the temp dir.
- Triton: `TRITON_CACHE_DIR` (compiled kernels; default `~/.triton/cache`).
- torch: `TORCHINDUCTOR_CACHE_DIR` (default `/tmp/torchinductor_<user>`, and the user name comes
  from `getpass.getuser()`, which fails for a UID without a passwd entry unless `USER` is set).
- CUDA: `CUDA_CACHE_PATH` (PTX JIT cache; default `~/.nv/ComputeCache`).
- Hugging Face: `HF_HOME` (hub downloads, token file), on the model-cache volume.

Everything else under `HOME` lands on the same writable volume. A model whose engine writes
somewhere else gets `WritablePath` entries (a typed escape hatch), never a writable root.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass

from llmops.components.kube_names import QUANTITY
from llmops.components.serving.vllm_args import DEFAULT_IMAGE

__all__ = [
    "DEFAULT_IMAGE",
    "RESTRICTED_NAMESPACE_LABELS",
    "WritablePath",
    "image_problems",
    "pinned_image",
    "writable_path_problems",
]

PSS_VERSION = "v1.33"
"""Pod Security Standards version the serving namespace is held to: the pinned K3s minor
(components/k3s/versions.py), so a cluster upgrade cannot tighten the profile under running pods."""
RESTRICTED_NAMESPACE_LABELS = {
    f"pod-security.kubernetes.io/{mode}{suffix}": value
    for mode in ("enforce", "warn", "audit")
    for suffix, value in (("", "restricted"), ("-version", PSS_VERSION))
}
"""Labels of the serving namespace: the API server admits only pods of the restricted profile.
Every pod llmops puts there (model, download Job, image pre-pull) is written to it."""

RUN_AS_USER = 10001
"""UID of the serving process: above the range host users and system accounts use."""
RUN_AS_GROUP = 10001
FS_GROUP = 10001
"""Group that owns the volumes (model cache), so the non-root process can write them."""

HOME = "/home/vllm"
"""Writable home (an emptyDir): the caches below live here."""
TMP = "/tmp"
"""Writable temp dir (an emptyDir): IPC sockets, torch's scratch files."""
HF_HOME = "/models/huggingface"
"""Hugging Face home on the model-cache volume."""
HOME_SIZE = "10Gi"
"""Most the home volume holds: compiled kernels and torch.compile artefacts, typically well under 2 GiB."""
TMP_SIZE = "4Gi"
"""Most the temp volume holds: IPC sockets and scratch files."""

CACHE_ENV: tuple[tuple[str, str], ...] = (
    ("HOME", HOME),
    ("USER", "vllm"),
    ("XDG_CACHE_HOME", f"{HOME}/.cache"),
    ("XDG_CONFIG_HOME", f"{HOME}/.config"),
    ("VLLM_CACHE_ROOT", f"{HOME}/.cache/vllm"),
    ("VLLM_CONFIG_ROOT", f"{HOME}/.config/vllm"),
    ("VLLM_RPC_BASE_PATH", TMP),
    ("TRITON_CACHE_DIR", f"{HOME}/.triton/cache"),
    ("TORCHINDUCTOR_CACHE_DIR", f"{HOME}/.cache/torchinductor"),
    ("CUDA_CACHE_PATH", f"{HOME}/.nv/ComputeCache"),
    ("TMPDIR", TMP),
    ("HF_HOME", HF_HOME),
    ("PYTHONDONTWRITEBYTECODE", "1"),
)
"""Environment that points every cache the engine writes at a writable volume."""

# Paths an extra writable volume may not cover: the system itself, and the mounts llmops manages.
_RESERVED = ("/", "/bin", "/dev", "/etc", "/lib", "/lib64", "/proc", "/sbin", "/sys", "/usr", "/var/run")
_MANAGED = ("/dev/shm", HOME, TMP, HF_HOME, "/etc/llmops")
_PATH = re.compile(r"^/[A-Za-z0-9._/-]*$")

# An image reference: [registry[:port]/]path[:tag][@sha256:<64 hex>]
_IMAGE = re.compile(
    r"^(?:[a-z0-9]+(?:[.-][a-z0-9]+)*(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?"
    r"(?:@sha256:[0-9a-f]{64})?$"
)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class WritablePath:
    """An extra writable directory (an emptyDir) for an engine that writes outside the caches above."""

    path: str
    """Absolute path inside the container, e.g. /opt/plugin/cache."""
    size_limit: str = "1Gi"
    """Most the directory may hold; default 1Gi (the pod is evicted beyond it)."""


def writable_path_problems(paths: Sequence[WritablePath]) -> list[tuple[int, str, str, str]]:
    """(index, path, what is wrong, fix) for each unusable entry."""
    problems: list[tuple[int, str, str, str]] = []
    seen: set[str] = set()
    for index, entry in enumerate(paths):
        path = entry.path
        normal = posixpath.normpath(path) if path.startswith("/") else path
        if not _PATH.match(path) or normal != path or ".." in path.split("/"):
            problems.append(
                (
                    index,
                    path,
                    "is not a clean absolute path",
                    f"write it like {normal if _PATH.match(normal) else '/opt/engine/cache'!r}",
                )
            )
            continue
        if path in _RESERVED or any(path == r or path.startswith(r + "/") for r in _RESERVED[1:]):
            problems.append(
                (
                    index,
                    path,
                    "would make a system directory writable",
                    "name the engine's own cache directory",
                )
            )
        elif any(path == m or path.startswith(m + "/") or m.startswith(path + "/") for m in _MANAGED):
            problems.append(
                (
                    index,
                    path,
                    "overlaps a writable mount llmops already makes",
                    f"drop it; {HOME}, {TMP} and {HF_HOME} are writable",
                )
            )
        elif path in seen:
            problems.append((index, path, "is listed twice", "list each path once"))
        if not QUANTITY.match(entry.size_limit):
            problems.append((index, entry.size_limit, "is not a Kubernetes quantity", "write it like '1Gi'"))
        seen.add(path)
    return problems


def image_problems(image: str, digest: str | None) -> list[tuple[str, str, str, str]]:
    """(field, value, what is wrong, fix) for a malformed image reference or digest."""
    problems: list[tuple[str, str, str, str]] = []
    if not _IMAGE.match(image):
        problems.append(
            (
                "image",
                image,
                "is not an image reference",
                "write it like 'vllm/vllm-openai:v0.33.0' or 'repo@sha256:<64 hex>'",
            )
        )
    if digest is not None:
        if not _DIGEST.match(digest):
            problems.append(
                ("image_digest", digest, "is not a sha256 digest", "write it as 'sha256:' and 64 hex digits")
            )
        elif "@" in image:
            problems.append(
                ("image_digest", digest, "is set while the image already names a digest", "set one of them")
            )
    return problems


def pinned_image(image: str, digest: str | None) -> str:
    """The image reference the pod runs: `image@digest` when a digest is given."""
    return f"{image}@{digest}" if digest else image
