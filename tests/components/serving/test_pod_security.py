"""Serving pods: non-root, read-only root filesystem with writable caches, seccomp, no token."""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from llmops.components.serving import pod_security
from llmops.components.serving.pod_security import WritablePath, image_problems, writable_path_problems
from llmops.infra.config import ConfigError

from tests.infra.test_plan import KUBERNETES_VERSION, container_of, only, plan_of

DIGEST = "sha256:" + "ab" * 32

MODEL_STACK = """
config:
  llmops:cluster: {kind: existing}
  llmops:models:
    - name: m
      source: Qwen/Qwen2.5-0.5B-Instruct
"""


def pod_of(text: str = MODEL_STACK) -> dict[str, Any]:
    plan = plan_of(text)
    return only(plan, "kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]


def test_pod_runs_non_root_with_seccomp_and_no_token() -> None:
    pod = pod_of()
    assert pod["automountServiceAccountToken"] is False
    context = pod["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["runAsUser"] == pod_security.RUN_AS_USER >= 10000
    assert context["fsGroup"] == pod_security.FS_GROUP
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    own = container["securityContext"]
    assert own["readOnlyRootFilesystem"] is True
    assert own["allowPrivilegeEscalation"] is False
    assert own["capabilities"] == {"drop": ["ALL"]}
    assert own["runAsNonRoot"] is True


def test_every_cache_the_engine_writes_is_on_a_writable_volume() -> None:
    pod = pod_of()
    (container,) = pod["containers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    writable = [
        m["mountPath"]
        for m in container["volumeMounts"]
        if not m.get("readOnly")
        and ("emptyDir" in volumes[m["name"]] or "persistentVolumeClaim" in volumes[m["name"]])
    ]
    env = {e["name"]: e.get("value") for e in container["env"]}
    for name in (
        "VLLM_CACHE_ROOT",
        "VLLM_CONFIG_ROOT",
        "VLLM_RPC_BASE_PATH",
        "TRITON_CACHE_DIR",
        "TORCHINDUCTOR_CACHE_DIR",
        "CUDA_CACHE_PATH",
        "HF_HOME",
        "HOME",
        "XDG_CACHE_HOME",
        "TMPDIR",
    ):
        path = env[name]
        assert path and posixpath.isabs(path), name
        assert any(path == m or path.startswith(m + "/") for m in writable), (
            f"{name}={path} is on the read-only root"
        )
    # getpass.getuser() (torch inductor's cache name) needs USER for a UID without a passwd entry.
    assert env["USER"]


def test_the_locked_down_deployment_matches_the_kubernetes_schema() -> None:
    from llmops.infra import artifacts

    plan = plan_of(MODEL_STACK)
    document = artifacts.manifests(plan)["deployment.llmops.m.yaml"]
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_extra_writable_paths_and_a_pinned_digest() -> None:
    text = (
        MODEL_STACK
        + f"      imageDigest: '{DIGEST}'\n"
        + "      writablePaths: [{path: /opt/engine/cache, sizeLimit: 2Gi}]\n"
    )
    plan = plan_of(text)
    container = container_of(plan)
    assert container["image"] == f"vllm/vllm-openai:v0.33.0@{DIGEST}"
    assert {"name": "writable-0", "mountPath": "/opt/engine/cache"} in container["volumeMounts"]
    pod = only(plan, "kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]
    assert {"name": "writable-0", "emptyDir": {"sizeLimit": "2Gi"}} in pod["volumes"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/", "would make a system directory writable"),
        ("/usr/lib/python3", "would make a system directory writable"),
        ("/tmp/x", "overlaps a writable mount llmops already makes"),
        ("relative/dir", "is not a clean absolute path"),
        ("/opt/../etc", "is not a clean absolute path"),
    ],
)
def test_writable_paths_that_are_refused(path: str, message: str) -> None:
    ((index, value, what, _fix),) = writable_path_problems([WritablePath(path)])
    assert (index, value, what) == (0, path, message)


def test_writable_path_and_digest_errors_name_the_key(tmp_path: Path) -> None:
    text = MODEL_STACK + "      imageDigest: sha256:abc\n      writablePaths: [{path: /etc}]\n"
    with pytest.raises(ConfigError) as caught:
        plan_of(text)
    lines = [str(p) for p in caught.value.problems]
    assert (
        "models[0].imageDigest: 'sha256:abc' is not a sha256 digest. Fix: write it as 'sha256:' and 64 hex digits"
        in lines
    )
    assert (
        "models[0].writablePaths[0].path: '/etc' would make a system directory writable. "
        "Fix: name the engine's own cache directory" in lines
    )


def test_image_reference_checks() -> None:
    assert image_problems("vllm/vllm-openai:v0.33.0", DIGEST) == []
    assert image_problems(f"registry.example.com:5000/team/vllm@{DIGEST}", None) == []
    assert image_problems("Not An Image", None)[0][2] == "is not an image reference"
    assert (
        image_problems(f"vllm/vllm-openai@{DIGEST}", DIGEST)[0][2]
        == "is set while the image already names a digest"
    )
