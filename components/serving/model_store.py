"""The Kubernetes side of the model store: one download Job per model revision, and a
DaemonSet that keeps the serving images on the GPU nodes.

The store itself (a ReadWriteMany claim) comes from the cloud layer (`components/aws/`
for EFS) or from the stack (an NFS export or an existing claim). Replicas of a model
mount it read-only and start once the Job's completion marker is there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources

import pulumi
import pulumi_kubernetes as k8s
from llmops.components.serving import download
from llmops.components.serving.vllm_args import DEFAULT_IMAGE

STORE_MOUNT = "/models"
SCRIPT_DIR = "/etc/llmops/download"
SCRIPT = "download.py"
# The unprivileged id the serving pods run as too (images/vllm/Dockerfile): above 10000, so it
# cannot clash with a user of the node.
RUN_AS = 10001
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
GPU_TAINT_KEY = "nvidia.com/gpu"
POOL_LABEL = "llmops.io/pool"
# A download of a 140 GB model at ~200 MB/s takes about 12 minutes; a day covers slow links
# and the Job's retries, then the Job gives up and says so.
DOWNLOAD_DEADLINE_S = 24 * 3600


WAIT_SCRIPT = "wait_for_model.sh"
# How long a replica waits for the download Job before its init container fails (the pod
# then restarts it with back-off, so a slow download only delays the replica).
DEFAULT_WAIT_TIMEOUT_S = 3600


@dataclass(frozen=True)
class ModelStoreMount:
    """A model served from the store: the claim, and where in it the model's revision lives."""

    claim_name: pulumi.Input[str]
    """ReadWriteMany claim of the store; replicas mount it read-only."""
    repo: str
    """Hugging Face repo id the download Job fetched."""
    revision: str
    """Revision directory the replicas serve from."""
    download_job: str = ""
    """Name of the Job that writes the files (named in the wait log line)."""
    wait_timeout_s: int = DEFAULT_WAIT_TIMEOUT_S
    """Longest wait for the completion marker before the init container fails and is retried."""

    @property
    def path(self) -> str:
        return model_path(self.repo, self.revision)

    @property
    def marker(self) -> str:
        return marker_path(self.repo, self.revision)


def wait_script() -> str:
    return resources.files("llmops.components.serving").joinpath(WAIT_SCRIPT).read_text(encoding="utf-8")


def model_path(repo: str, revision: str, mount: str = STORE_MOUNT) -> str:
    """Where a replica finds the model: `<mount>/<repo>/<revision>`."""
    return f"{mount}/{repo}/{download.revision_dir_name(revision)}"


def marker_path(repo: str, revision: str, mount: str = STORE_MOUNT) -> str:
    return f"{model_path(repo, revision, mount)}/{download.MARKER}"


def revision_suffix(repo: str, revision: str) -> str:
    """Short, stable id of a model revision for object names (a Job's spec cannot change)."""
    return hashlib.sha256(f"{repo}@{revision}".encode()).hexdigest()[:8]


def _restricted_container_security() -> k8s.core.v1.SecurityContextArgs:
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        run_as_non_root=True,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
    )


def _restricted_pod_security(user: int) -> k8s.core.v1.PodSecurityContextArgs:
    # No fsGroup: with a driver that honours it (csi-driver-nfs does), the kubelet would chown
    # the whole store at every mount. The store's owner comes from the EFS access point or the
    # NFS export instead.
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=user,
        run_as_group=user,
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def _gpu_toleration() -> k8s.core.v1.TolerationArgs:
    return k8s.core.v1.TolerationArgs(key=GPU_TAINT_KEY, operator="Exists", effect="NoSchedule")


@dataclass
class ModelDownloadJobArgs:
    """Arguments of ModelDownloadJob."""

    repo: str
    """Hugging Face repo id (`org/name`) to download."""
    revision: str
    """Branch, tag or commit; the files land in `<store>/<repo>/<revision>/`."""
    namespace: pulumi.Input[str]
    """Namespace of the Job (the claim's namespace)."""
    claim_name: pulumi.Input[str]
    """ReadWriteMany claim of the model store; the Job mounts it read-write."""
    model_name: str
    """Name of the model that serves this revision; recorded in the store for the prune rule."""
    image: pulumi.Input[str] = DEFAULT_IMAGE
    """Image with python3 and huggingface_hub; default: the serving image, which the GPU nodes keep."""
    hf_token_secret: str | None = None
    """Existing Secret with key HF_TOKEN, for gated models; default: anonymous downloads."""
    node_pools: Sequence[str] = ()
    """Pools the Job runs on (the model's: they keep the image and may mount the store); default: any node."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels on every object; default: only llmops' own."""


class ModelDownloadJob(pulumi.ComponentResource):
    """Downloads one model revision into the store, once: a Job running the download script."""

    job: k8s.batch.v1.Job
    """The Job; its name carries a hash of repo and revision, so a new revision is a new Job."""

    def __init__(self, name: str, args: ModelDownloadJobArgs, opts: pulumi.ResourceOptions | None = None):
        problems = download_job_problems(args)
        if problems:
            raise ValueError(f"ModelDownloadJob {name!r}: invalid arguments:\n  - " + "\n  - ".join(problems))
        super().__init__("llmops:serving:ModelDownloadJob", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = {
            **args.labels,
            "app.kubernetes.io/name": "llmops-model-download",
            "app.kubernetes.io/instance": name,
            "app.kubernetes.io/managed-by": "llmops",
            "llmops.io/model": args.model_name,
        }
        script = resources.files("llmops.components.serving").joinpath(SCRIPT).read_text(encoding="utf-8")
        config = k8s.core.v1.ConfigMap(
            f"{name}-script",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{name}-script", namespace=args.namespace, labels=labels
            ),
            data={SCRIPT: script},
            opts=child,
        )
        env = [
            k8s.core.v1.EnvVarArgs(name="HOME", value="/tmp"),
            k8s.core.v1.EnvVarArgs(name="HF_HOME", value="/tmp/hf-home"),
            k8s.core.v1.EnvVarArgs(name="HF_HUB_DISABLE_TELEMETRY", value="1"),
            k8s.core.v1.EnvVarArgs(name="HF_HUB_DISABLE_PROGRESS_BARS", value="1"),
            k8s.core.v1.EnvVarArgs(name="PYTHONDONTWRITEBYTECODE", value="1"),
        ]
        if args.hf_token_secret:
            env.append(
                k8s.core.v1.EnvVarArgs(
                    name="HF_TOKEN",
                    value_from=k8s.core.v1.EnvVarSourceArgs(
                        secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(
                            name=args.hf_token_secret, key="HF_TOKEN"
                        )
                    ),
                )
            )
        # The pools the model runs on: their nodes keep the image and, on EFS, hold the mount grant.
        on_pools = k8s.core.v1.NodeSelectorArgs(
            node_selector_terms=[
                k8s.core.v1.NodeSelectorTermArgs(
                    match_expressions=[
                        k8s.core.v1.NodeSelectorRequirementArgs(
                            key=POOL_LABEL, operator="In", values=list(args.node_pools)
                        )
                    ]
                )
            ]
        )
        job_name = f"{name}-{revision_suffix(args.repo, args.revision)}"
        self.job = k8s.batch.v1.Job(
            f"{name}-job",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=job_name, namespace=args.namespace, labels=labels),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=6,
                active_deadline_seconds=DOWNLOAD_DEADLINE_S,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        # A failed attempt restarts in place and continues with the files it has.
                        restart_policy="OnFailure",
                        automount_service_account_token=False,
                        security_context=_restricted_pod_security(RUN_AS),
                        tolerations=[_gpu_toleration()],
                        affinity=k8s.core.v1.AffinityArgs(
                            node_affinity=k8s.core.v1.NodeAffinityArgs(
                                required_during_scheduling_ignored_during_execution=on_pools
                            )
                        )
                        if args.node_pools
                        else None,
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name="download",
                                image=args.image,
                                command=[
                                    "python3",
                                    f"{SCRIPT_DIR}/{SCRIPT}",
                                    "fetch",
                                    "--store",
                                    STORE_MOUNT,
                                    "--repo",
                                    args.repo,
                                    "--revision",
                                    args.revision,
                                    "--owner",
                                    args.model_name,
                                ],
                                env=env,
                                resources=k8s.core.v1.ResourceRequirementsArgs(
                                    requests={"cpu": "1", "memory": "2Gi"}, limits={"memory": "4Gi"}
                                ),
                                security_context=_restricted_container_security(),
                                volume_mounts=[
                                    k8s.core.v1.VolumeMountArgs(name="store", mount_path=STORE_MOUNT),
                                    k8s.core.v1.VolumeMountArgs(
                                        name="script", mount_path=SCRIPT_DIR, read_only=True
                                    ),
                                    k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
                                ],
                            )
                        ],
                        volumes=[
                            k8s.core.v1.VolumeArgs(
                                name="store",
                                persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(
                                    claim_name=args.claim_name
                                ),
                            ),
                            k8s.core.v1.VolumeArgs(
                                name="script",
                                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                                    name=config.metadata.apply(lambda m: m.name or f"{name}-script"),
                                    default_mode=0o444,
                                ),
                            ),
                            k8s.core.v1.VolumeArgs(
                                name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="1Gi")
                            ),
                        ],
                    ),
                ),
            ),
            opts=child,
        )
        self.register_outputs({})


def download_job_problems(args: ModelDownloadJobArgs) -> list[str]:
    problems = []
    if args.repo.count("/") > 1 or not args.repo or args.repo.startswith("/") or ".." in args.repo:
        problems.append(f"repo: {args.repo!r} is not a Hugging Face repo id. Fix: use 'org/name'")
    if not download.is_git_ref(args.revision):
        problems.append(
            f"revision: {args.revision!r} is not a git branch, tag or commit. "
            "Fix: use e.g. 'main' or a commit id"
        )
    return problems


@dataclass
class ImagePrePullArgs:
    """Arguments of ImagePrePull."""

    images: Sequence[pulumi.Input[str]]
    """Images to keep on the nodes (the serving images, pinned as the pods run them)."""
    namespace: pulumi.Input[str]
    """Namespace of the DaemonSet."""
    node_pools: Sequence[str] = ()
    """Pools (node label llmops.io/pool) to pull onto; default: every node that tolerates nothing extra."""
    tolerate_gpu_taint: bool = True
    """Run on nodes with the nvidia.com/gpu=true:NoSchedule taint; default: on."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels on every object; default: only llmops' own."""


class ImagePrePull(pulumi.ComponentResource):
    """A DaemonSet whose init containers pull the serving images as a node joins; a pause
    container keeps the pod (and with it the images' references) alive afterwards."""

    daemon_set: k8s.apps.v1.DaemonSet

    def __init__(self, name: str, args: ImagePrePullArgs, opts: pulumi.ResourceOptions | None = None):
        if not args.images:
            raise ValueError(f"ImagePrePull {name!r}: images: empty. Fix: name at least one image")
        super().__init__("llmops:serving:ImagePrePull", name, None, opts)
        select = {"app.kubernetes.io/name": "llmops-image-pre-pull", "app.kubernetes.io/instance": name}
        labels = {**args.labels, **select, "app.kubernetes.io/managed-by": "llmops"}
        tiny = k8s.core.v1.ResourceRequirementsArgs(
            requests={"cpu": "1m", "memory": "8Mi"}, limits={"cpu": "100m", "memory": "32Mi"}
        )
        affinity = (
            k8s.core.v1.AffinityArgs(
                node_affinity=k8s.core.v1.NodeAffinityArgs(
                    required_during_scheduling_ignored_during_execution=k8s.core.v1.NodeSelectorArgs(
                        node_selector_terms=[
                            k8s.core.v1.NodeSelectorTermArgs(
                                match_expressions=[
                                    k8s.core.v1.NodeSelectorRequirementArgs(
                                        key=POOL_LABEL, operator="In", values=list(args.node_pools)
                                    )
                                ]
                            )
                        ]
                    )
                )
            )
            if args.node_pools
            else None
        )
        self.daemon_set = k8s.apps.v1.DaemonSet(
            f"{name}-daemonset",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=args.namespace, labels=labels),
            spec=k8s.apps.v1.DaemonSetSpecArgs(
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=select),
                update_strategy=k8s.apps.v1.DaemonSetUpdateStrategyArgs(
                    type="RollingUpdate",
                    # A new image version is pulled on every node at once, ahead of the model rollout.
                    rolling_update=k8s.apps.v1.RollingUpdateDaemonSetArgs(max_unavailable="100%"),
                ),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        automount_service_account_token=False,
                        # The pull is the point; nothing runs. `true` exits at once in any image with a shell.
                        init_containers=[
                            k8s.core.v1.ContainerArgs(
                                name=f"pull-{i}",
                                image=image,
                                image_pull_policy="IfNotPresent",
                                command=["true"],
                                resources=tiny,
                                security_context=_restricted_container_security(),
                            )
                            for i, image in enumerate(dict.fromkeys(args.images))
                        ],
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name="pause",
                                image=PAUSE_IMAGE,
                                resources=tiny,
                                security_context=_restricted_container_security(),
                                # `/pause -v` prints its version and exits 0: the process image runs.
                                readiness_probe=k8s.core.v1.ProbeArgs(
                                    exec_=k8s.core.v1.ExecActionArgs(command=["/pause", "-v"]),
                                    period_seconds=60,
                                ),
                                liveness_probe=k8s.core.v1.ProbeArgs(
                                    exec_=k8s.core.v1.ExecActionArgs(command=["/pause", "-v"]),
                                    period_seconds=60,
                                ),
                            )
                        ],
                        security_context=_restricted_pod_security(65535),
                        tolerations=[_gpu_toleration()] if args.tolerate_gpu_taint else None,
                        affinity=affinity,
                        priority_class_name=None,
                        termination_grace_period_seconds=1,
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})


@dataclass(frozen=True)
class StorePodParts:
    """What a replica's pod gains when it serves from the store."""

    engine_model: str
    """The model argument of `vllm serve`: the revision's directory."""
    init_container: k8s.core.v1.ContainerArgs
    volume: k8s.core.v1.VolumeArgs
    mount: k8s.core.v1.VolumeMountArgs
    env: list[k8s.core.v1.EnvVarArgs]


def store_pod_parts(store: ModelStoreMount, image: pulumi.Input[str]) -> StorePodParts:
    """The read-only store mount, the init container that waits for the marker, offline mode."""
    mount = k8s.core.v1.VolumeMountArgs(name="model-store", mount_path=STORE_MOUNT, read_only=True)
    init = k8s.core.v1.ContainerArgs(
        name="wait-for-model",
        # The serving image: already on the node (pre-pulled), and it has a POSIX shell.
        image=image,
        command=["sh", "-c", wait_script()],
        env=[
            k8s.core.v1.EnvVarArgs(name="LLMOPS_MODEL_MARKER", value=store.marker),
            k8s.core.v1.EnvVarArgs(name="LLMOPS_WAIT_TIMEOUT_S", value=str(store.wait_timeout_s)),
            k8s.core.v1.EnvVarArgs(
                name="LLMOPS_DOWNLOAD_JOB", value=store.download_job or "the download Job"
            ),
        ],
        resources=k8s.core.v1.ResourceRequirementsArgs(
            requests={"cpu": "10m", "memory": "16Mi"}, limits={"memory": "64Mi"}
        ),
        security_context=k8s.core.v1.SecurityContextArgs(
            allow_privilege_escalation=False,
            read_only_root_filesystem=True,
            run_as_non_root=True,
            run_as_user=RUN_AS,
            capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        ),
        volume_mounts=[mount],
    )
    return StorePodParts(
        engine_model=store.path,
        init_container=init,
        volume=k8s.core.v1.VolumeArgs(
            name="model-store",
            persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(
                claim_name=store.claim_name, read_only=True
            ),
        ),
        mount=mount,
        # Everything is local: no request to the hub, even for a missing optional file.
        env=[k8s.core.v1.EnvVarArgs(name="HF_HUB_OFFLINE", value="1")],
    )
