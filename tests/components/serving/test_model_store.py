"""The download Job and the image pre-pull DaemonSet under Pulumi mocks, checked against the
Kubernetes API schemas."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from llmops.components.serving import download
from llmops.components.serving.model_store import (
    PAUSE_IMAGE,
    ImagePrePull,
    ImagePrePullArgs,
    ModelDownloadJob,
    ModelDownloadJobArgs,
    download_job_problems,
    marker_path,
    model_path,
)

from tests.components.k3s.mocks import RecordingMocks, run_program

KUBERNETES_VERSION = "1.33.0"


def _document(resource: Any, api_version: str, kind: str) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, **resource.inputs}


def _job_args(**overrides: Any) -> ModelDownloadJobArgs:
    kwargs: dict[str, Any] = {
        "repo": "Qwen/Qwen2.5-7B-Instruct",
        "revision": "main",
        "namespace": "serving",
        "claim_name": "models",
        "model_name": "qwen",
        "hf_token_secret": "hf-token",
        "node_pools": ["l4-spot"],
    }
    kwargs.update(overrides)
    return ModelDownloadJobArgs(**kwargs)


def _run_job(args: ModelDownloadJobArgs) -> RecordingMocks:
    mocks, _ = run_program(lambda: (ModelDownloadJob("qwen-download", args), {})[1])
    return mocks


def test_the_download_job_is_schema_valid_non_root_and_runs_the_shipped_script() -> None:
    mocks = _run_job(_job_args())
    (job,) = mocks.of_type("kubernetes:batch/v1:Job")
    (config,) = mocks.of_type("kubernetes:core/v1:ConfigMap")
    document = _document(job, "batch/v1", "Job")
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    kubernetes_validate.validate(_document(config, "v1", "ConfigMap"), KUBERNETES_VERSION, strict=True)
    assert config.inputs["data"]["download.py"] == Path(download.__file__).read_text(encoding="utf-8")

    pod = document["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == [
        "python3", "/etc/llmops/download/download.py", "fetch", "--store", "/models",
        "--repo", "Qwen/Qwen2.5-7B-Instruct", "--revision", "main", "--owner", "qwen",
    ]  # fmt: skip
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    # Everything the script writes goes to the store or to an emptyDir.
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert set(mounts) == {"/models", "/etc/llmops/download", "/tmp"}
    assert mounts["/etc/llmops/download"]["readOnly"] is True
    env = {e["name"]: e for e in container["env"]}
    assert env["HF_HOME"]["value"].startswith("/tmp/")
    assert env["HF_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "hf-token", "key": "HF_TOKEN"}}
    assert pod["restartPolicy"] == "OnFailure"


def test_a_new_revision_is_a_new_job() -> None:
    names = {
        rev: _run_job(_job_args(revision=rev))
        .of_type("kubernetes:batch/v1:Job")[0]
        .inputs["metadata"]["name"]
        for rev in ("main", "v2")
    }
    assert names["main"] != names["v2"] and all(n.startswith("qwen-download-") for n in names.values())


def test_bad_job_args_name_the_field() -> None:
    assert download_job_problems(_job_args(revision="a..b", repo="a/b/c")) == [
        "repo: 'a/b/c' is not a Hugging Face repo id. Fix: use 'org/name'",
        "revision: 'a..b' is not a git branch, tag or commit. Fix: use e.g. 'main' or a commit id",
    ]
    with pytest.raises(ValueError, match=r"revision: 'a\.\.b'"):
        ModelDownloadJob("x", _job_args(revision="a..b"))


def test_paths_follow_the_store_layout() -> None:
    assert model_path("org/m", "refs/pr/1") == "/models/org/m/refs--pr--1"
    assert marker_path("org/m", "main") == "/models/org/m/main/.llmops-complete.json"


def test_the_pre_pull_daemon_set_pulls_each_image_in_an_init_container() -> None:
    images = ["vllm/vllm-openai:v0.33.0", "ghcr.io/example/vllm:v1", "vllm/vllm-openai:v0.33.0"]
    mocks, _ = run_program(
        lambda: (
            ImagePrePull(
                "pre-pull", ImagePrePullArgs(images=images, namespace="serving", node_pools=["l4-spot"])
            ),
            {},
        )[1]
    )
    (daemon_set,) = mocks.of_type("kubernetes:apps/v1:DaemonSet")
    document = _document(daemon_set, "apps/v1", "DaemonSet")
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    pod = document["spec"]["template"]["spec"]
    assert [c["image"] for c in pod["initContainers"]] == images[:2]
    assert all(c["imagePullPolicy"] == "IfNotPresent" for c in pod["initContainers"])
    assert [c["image"] for c in pod["containers"]] == [PAUSE_IMAGE]
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    term = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ][0]
    assert term["matchExpressions"] == [{"key": "llmops.io/pool", "operator": "In", "values": ["l4-spot"]}]


# --------------------------------------------------------------------------- replicas from the store

WAIT_SCRIPT = Path(download.__file__).with_name("wait_for_model.sh")


def test_the_wait_script_is_shellcheck_clean() -> None:
    shellcheck = Path(sys.executable).parent / "shellcheck"
    result = subprocess.run([str(shellcheck), "--shell=sh", str(WAIT_SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def _wait(tmp_path: Path, timeout_s: int) -> subprocess.Popen[str]:
    env = {
        "PATH": os.environ["PATH"],
        "LLMOPS_MODEL_MARKER": str(tmp_path / "org" / "m" / "main" / download.MARKER),
        "LLMOPS_WAIT_TIMEOUT_S": str(timeout_s),
        "LLMOPS_WAIT_POLL_S": "1",
        "LLMOPS_DOWNLOAD_JOB": "qwen-download-1234abcd",
    }
    return subprocess.Popen(
        ["sh", str(WAIT_SCRIPT)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_the_replica_waits_for_the_marker_then_starts(tmp_path: Path) -> None:
    proc = _wait(tmp_path, 30)
    time.sleep(1.5)
    assert proc.poll() is None  # still waiting
    marker = tmp_path / "org" / "m" / "main" / download.MARKER
    marker.parent.mkdir(parents=True)
    marker.write_text("{}")
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert f"llmops: waiting for the model files: {marker} is written by qwen-download-1234abcd" in out
    assert out.rstrip().endswith("starting vLLM")


def test_the_wait_is_bounded_and_says_what_to_check(tmp_path: Path) -> None:
    proc = _wait(tmp_path, 2)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert "did not appear within 2s. Check the download: kubectl logs job/qwen-download-1234abcd" in err


def test_a_replica_on_the_store_mounts_it_read_only_and_serves_offline_from_the_local_path() -> None:
    from llmops.components.serving import EngineSpec, VllmModel, VllmModelArgs
    from llmops.components.serving.model_store import ModelStoreMount

    store = ModelStoreMount(
        claim_name="store-models", repo="Qwen/Qwen2.5-7B-Instruct", revision="main", download_job="qwen-dl"
    )
    args = VllmModelArgs(
        engine=EngineSpec(model="Qwen/Qwen2.5-7B-Instruct", revision="main"),
        namespace="serving",
        model_store=store,
    )
    mocks, _ = run_program(lambda: (VllmModel("qwen", args), {})[1])
    (deployment,) = mocks.of_type("kubernetes:apps/v1:Deployment")
    document = _document(deployment, "apps/v1", "Deployment")
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    pod = document["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    (container,) = pod["containers"]
    assert init["command"][:2] == ["sh", "-c"] and init["command"][2] == WAIT_SCRIPT.read_text()
    assert {e["name"]: e["value"] for e in init["env"]}["LLMOPS_MODEL_MARKER"] == (
        "/models/Qwen/Qwen2.5-7B-Instruct/main/.llmops-complete.json"
    )
    assert container["args"][0] == "/models/Qwen/Qwen2.5-7B-Instruct/main"
    served = container["args"].index("--served-model-name")
    assert container["args"][served + 1] == "Qwen/Qwen2.5-7B-Instruct"
    assert "--revision" not in container["args"]
    assert {"name": "HF_HUB_OFFLINE", "value": "1"} in container["env"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "model-store")
    assert mount == {"name": "model-store", "mountPath": "/models", "readOnly": True}
    volume = next(v for v in pod["volumes"] if v["name"] == "model-store")
    assert volume["persistentVolumeClaim"] == {"claimName": "store-models", "readOnly": True}


def test_without_a_store_the_replica_downloads_as_before() -> None:
    from llmops.components.serving import EngineSpec, VllmModel, VllmModelArgs

    args = VllmModelArgs(engine=EngineSpec(model="Qwen/Qwen2.5-7B-Instruct"), namespace="serving")
    mocks, _ = run_program(lambda: (VllmModel("qwen", args), {})[1])
    pod = mocks.of_type("kubernetes:apps/v1:Deployment")[0].inputs["spec"]["template"]["spec"]
    assert "initContainers" not in pod
    assert pod["containers"][0]["args"][0] == "Qwen/Qwen2.5-7B-Instruct"
    assert all(e["name"] != "HF_HUB_OFFLINE" for e in pod["containers"][0]["env"])
