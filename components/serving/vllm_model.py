"""`VllmModel`: one model served by vLLM as a Deployment, a Service and a PodDisruptionBudget.

Failure detection is the point of the probe settings below; the numbers and their
reasons are next to each probe.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from llmops.components.errors import InputError, as_problem, raise_if
from llmops.components.kube_names import is_dns1035_label
from llmops.components.observability.manifests import scrape_problems
from llmops.components.serving import pod_security
from llmops.components.serving.autoscaling import AutoscalingSpec, reactive_query, scaled_object_spec
from llmops.components.serving.model_store import ModelStoreMount, store_pod_parts
from llmops.components.serving.pod_security import WritablePath
from llmops.components.serving.spread import default_spread_keys, pool_affinity, spread_constraints
from llmops.components.serving.vllm_args import (
    DEFAULT_IMAGE,
    MAX_MODEL_NAME,
    PORT,
    EngineSpec,
    serve_args,
    spec_problems,
)

GPU_RESOURCE = "nvidia.com/gpu"
HF_HOME = pod_security.HF_HOME

# Readiness: a replica whose /health fails twice, one second apart, leaves the
# Service's endpoints. Worst case from the fault: up to 1 s until the next probe,
# then 1 s to the second failure, so about 2 s (plus a few hundred ms for the
# endpoint change to reach kube-proxy). A crashed process is faster still: the
# kubelet marks the pod NotReady as soon as the container exits.
READINESS_PERIOD_S = 1
READINESS_FAILURES = 2
# Liveness: a process that stops answering (deadlocked server, wedged CUDA context)
# is restarted after two failed probes two seconds apart with a 1 s timeout each,
# so within about 5 s of the fault; a period of 2 s halves the probe traffic of the
# readiness check while staying inside that budget.
LIVENESS_PERIOD_S = 2
LIVENESS_FAILURES = 2
PROBE_TIMEOUT_S = 1
# Startup: while weights load and CUDA graphs compile, the other probes are held
# off; the startup probe polls every 5 s for up to `startup_timeout_s`.
STARTUP_PERIOD_S = 5
# Progress probe (the hung-engine check, images/vllm/progress_probe.py) replaces the
# /health liveness check when on: it fails when /metrics does not answer within 2 s
# (a dead or wedged server) and when requests run but no token was generated for
# `stall_seconds`. Run every second, one failure restarts: a wedged server restarts
# within ~3 s, a hung engine within stall_seconds + ~1 s. The timeout stays above the
# probe's own 2 s read of /metrics.
PROGRESS_PROBE_PERIOD_S = 1
PROGRESS_PROBE_TIMEOUT_S = 3
PROGRESS_PROBE_DIR = "/etc/llmops/probe"
PROGRESS_PROBE_SCRIPT = "progress_probe.py"
PROBE_IN_IMAGE = "llmops-progress-probe"


@dataclass(frozen=True)
class DemandForecast:
    """Per-token costs of one replica (from the capacity model) and its start-up time."""

    prefill_s_per_token: float
    """Replica-seconds one prompt token costs."""
    decode_s_per_token: float
    """Replica-seconds one generated token costs at the replica's working batch size."""
    startup_s: int
    """Typical time from a new pod to a ready replica; the forecast looks this far ahead."""


@dataclass
class VllmModelArgs:
    """Arguments of VllmModel."""

    engine: EngineSpec
    """What vLLM serves and how (model, parallelism, context length, dtype, ...)."""
    namespace: pulumi.Input[str]
    """Kubernetes namespace of the Deployment, Service and PDB."""
    replicas: int = 1
    """Pods serving the model; default: one (no redundancy, cheapest)."""
    image: pulumi.Input[str] = DEFAULT_IMAGE
    """Serving image; default: the pinned vllm/vllm-openai release the flags are checked against.
    An Output (the stack's built image, `ServingImage.image`) is checked where it is built."""
    image_digest: pulumi.Input[str] | None = None
    """`sha256:<hex>` digest the image is pinned to (`image@digest`); default: the tag alone."""
    probe_in_image: bool = False
    """The image ships the progress probe as `llmops-progress-probe` (images/vllm/Dockerfile): the
    liveness check runs it there and no probe ConfigMap is made."""
    writable_paths: Sequence[WritablePath] = ()
    """Extra writable directories (emptyDirs) for an engine that writes outside the caches llmops
    points at its volumes; the root filesystem stays read-only. Default: none."""
    cpu: str = "4"
    """CPU request per pod; no CPU limit, since throttling the tokenizer adds latency."""
    memory: str = "16Gi"
    """Memory request and limit per pod; weights pass through host memory while loading."""
    shm_size: str = "2Gi"
    """Size of the in-memory /dev/shm; NCCL and the tensor-parallel workers need more than Docker's 64 MiB."""
    node_selector: Mapping[str, str] = field(default_factory=dict)
    """Labels a node must carry; default: any node with a free GPU."""
    node_pools: Sequence[str] = ()
    """Pools (node label llmops.io/pool) the pods may run on, most preferred first, e.g. a spot pool
    then its on-demand fallback; default: any node."""
    spread_over: Sequence[str] | None = None
    """Node labels (failure domains) the replicas spread over besides the node, softly: the pool
    order wins, spread breaks ties (components/serving/spread.py). Every node that may run the model
    must carry each label. Default: `llmops.io/cloud` with node_pools, else the zone label."""
    even_pools: int = 1
    """How many of node_pools, from the first, are equally preferred (placement `spread`): replicas
    spread evenly over them and the later pools stay fallbacks; 1: the plain order."""
    tolerate_gpu_taint: bool = True
    """Tolerate the nvidia.com/gpu=true:NoSchedule taint that llmops puts on GPU nodes; default: on."""
    startup_timeout_s: int = 1200
    """How long a pod may take to download/load weights before it is restarted; default: 20 minutes."""
    hf_token_secret: str | None = None
    """Existing Secret with key HF_TOKEN, for gated models; default: anonymous downloads."""
    api_key_secret: str | None = None
    """Existing Secret with key VLLM_API_KEY: the OpenAI API then needs `Authorization: Bearer <key>`
    (/health and /metrics stay open, so probes and scrapes need no key). Default: no key."""
    model_cache_claim: pulumi.Input[str] | None = None
    """PVC holding the shared model cache; default: a per-pod emptyDir (downloads at every start)."""
    model_store: ModelStoreMount | None = None
    """Serve from the shared model store: mounted read-only, the pod waits for the download Job's
    marker, then runs offline from the revision's directory under the served model name.
    Default: none (weights downloaded from the hub at every start)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels on every object; default: only llmops' own."""
    progress_probe: bool = True
    """Restart a replica whose engine stops producing tokens while requests run (exec liveness
    probe, script shipped in a ConfigMap); default: on. Off: liveness is a plain /health check."""
    stall_seconds: int = 8
    """Seconds without a generated token, with requests running, before the progress probe fails."""
    service_monitor: bool = False
    """Create a ServiceMonitor scraping the replicas every `scrape_interval`; needs the Prometheus
    Operator CRDs (ObservabilityStack installs them). Default: off."""
    scrape_interval: str = "2s"
    """How often Prometheus scrapes each replica when `service_monitor` is on."""
    demand_forecast: DemandForecast | None = None
    """Record the model's replica demand and its forecast one start-up time ahead (a PrometheusRule;
    needs the Prometheus Operator CRDs): the predictive scaling signal, the same rule `llmops replay`
    evaluates. Default: off."""
    autoscaling: AutoscalingSpec | None = None
    """Scale the Deployment with a KEDA ScaledObject rendered from this spec (needs KEDA's CRDs and
    the ServiceMonitor's metrics); `replicas` is then only the first size and later drift is left
    to the autoscaler. Default: a fixed `replicas`."""


VllmModelArgsError = InputError
"""Kept for old imports: invalid VllmModelArgs raise the project's one input error."""


def selector_labels(name: str) -> dict[str, str]:
    """Labels that select the model's pods; ServiceMonitors and PodMonitors select on these too."""
    return {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": name}


def validate_args(name: str, args: VllmModelArgs) -> list[str]:
    """Every problem with `args`, as 'field: value problem. Fix: ...' lines."""
    problems = [f"engine.{f}: {v!r} {what}. Fix: {fix}" for f, v, what, fix in spec_problems(args.engine)]
    if not is_dns1035_label(name, MAX_MODEL_NAME):
        problems.append(
            f"name: {name!r} is not usable as a Kubernetes name (lower-case letters, digits, '-', "
            "at most 40 characters). Fix: rename the model"
        )
    problems += [
        f"writable_paths[{i}]: {v!r} {what}. Fix: {fix}"
        for i, v, what, fix in pod_security.writable_path_problems(args.writable_paths)
    ]
    problems += [
        f"{f}: {v!r} {what}. Fix: {fix}"
        for f, v, what, fix in (
            pod_security.image_problems(args.image, args.image_digest)
            if isinstance(args.image, str) and isinstance(args.image_digest, str | None)
            else []
        )
    ]
    if args.replicas < 0:
        problems.append(f"replicas: {args.replicas} must be >= 0. Fix: use 0 to scale the model down")
    if args.progress_probe and not 2 <= args.stall_seconds <= 600:
        problems.append(
            f"stall_seconds: {args.stall_seconds} must be between 2 and 600. "
            "Fix: keep it above the longest single prefill; the default 8 suits most models"
        )
    if args.autoscaling is not None:
        problems += _autoscaling_problems(args)
    if args.startup_timeout_s < STARTUP_PERIOD_S:
        problems.append(
            f"startup_timeout_s: {args.startup_timeout_s} is shorter than one startup probe period "
            f"({STARTUP_PERIOD_S} s). Fix: allow the minutes weight loading takes, e.g. 1200"
        )
    if args.service_monitor:
        problems += [
            str(p) for p in scrape_problems(args.scrape_interval, keys={"interval": "scrape_interval"})
        ]
    return problems


def _autoscaling_problems(args: VllmModelArgs) -> list[str]:
    spec = args.autoscaling
    assert spec is not None
    problems = []
    if not args.service_monitor:
        problems.append(
            "autoscaling: is set but service_monitor is off, so Prometheus holds no load for the "
            "reactive trigger. Fix: set service_monitor=True"
        )
    if spec.predictive and args.demand_forecast is None:
        problems.append(
            "autoscaling.predictive: True needs the forecast the demand_forecast rule records. "
            "Fix: set demand_forecast, or predictive=False"
        )
    return problems


class VllmModel(pulumi.ComponentResource):
    """A vLLM OpenAI-compatible server for one model, with fast failure detection."""

    endpoint: pulumi.Output[str]
    """OpenAI-compatible base URL inside the cluster (http://<service>.<namespace>.svc.cluster.local:8000/v1)."""
    service_name: pulumi.Output[str]
    """Name of the Service in front of the replicas."""
    deployment: k8s.apps.v1.Deployment
    """The Deployment, for users who need to patch what the args do not cover."""

    def __init__(self, name: str, args: VllmModelArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if(f"VllmModel {name!r}", [as_problem(line) for line in validate_args(name, args)])
        super().__init__("llmops:serving:VllmModel", name, None, opts)
        # What the model was told to wait for (the GPU operator, the monitoring CRDs) must hold back
        # its children too: the engine does not pass a component's depends_on on to them.
        child = pulumi.ResourceOptions(parent=self, depends_on=opts.depends_on if opts else None)
        self._child_opts = child

        select = selector_labels(name)
        labels = {
            **args.labels,
            **select,
            "app.kubernetes.io/component": "serving",
            "app.kubernetes.io/managed-by": "llmops",
            "llmops.io/model": name,
        }

        def meta(kind_suffix: str = "") -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(
                name=name + kind_suffix, namespace=args.namespace, labels=labels
            )

        probe_config = None
        if args.progress_probe and not args.probe_in_image:
            script = resources.files("llmops.components.serving").joinpath(PROGRESS_PROBE_SCRIPT).read_text()
            probe_config = k8s.core.v1.ConfigMap(
                f"{name}-progress-probe",
                metadata=meta("-progress-probe"),
                data={PROGRESS_PROBE_SCRIPT: script},
                opts=child,
            )

        # With a ScaledObject the HPA owns the replica count; `pulumi up` must not reset it.
        keep_replicas = pulumi.ResourceOptions(ignore_changes=["spec.replicas"])
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=meta(),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=args.replicas if args.autoscaling is None else args.autoscaling.min_replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=select),
                # A rollout replaces pods one at a time without a surge pod: a surge
                # would need a spare GPU, which a right-sized pool does not have.
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_surge=0, max_unavailable=1),
                ),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=self._pod_spec(name, args, select, probe_config),
                ),
            ),
            opts=child if args.autoscaling is None else child.merge(keep_replicas),
        )
        if args.autoscaling is not None:
            k8s.apiextensions.CustomResource(
                f"{name}-scaler",
                api_version="keda.sh/v1alpha1",
                kind="ScaledObject",
                metadata=meta(),
                spec=self._scaler_spec(name, args.autoscaling, args.namespace),
                opts=child,
            )

        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=meta(),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=select,
                ports=[
                    k8s.core.v1.ServicePortArgs(name="http", port=PORT, target_port="http", protocol="TCP")
                ],
            ),
            opts=child,
        )

        # Voluntary disruptions (node drains, spot rebalance) take one replica at a time. A count
        # of unavailable pods, not a minimum available: when a pool is lost, the budget holds drains
        # of the survivors until the replacements are ready, and it never needs the lost pool back.
        # Pods that are not ready (a replacement still loading on a node being drained) may always
        # be evicted, so a failover never deadlocks a drain.
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=meta(),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1,
                unhealthy_pod_eviction_policy="AlwaysAllow",
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=select),
            ),
            opts=child,
        )

        if args.service_monitor:
            from llmops.components.observability import vllm_service_monitor

            vllm_service_monitor(
                f"{name}-metrics",
                args.namespace,
                {"llmops.io/model": name},
                port="http",
                interval=args.scrape_interval,
                opts=self._child_opts,
            )

        if args.demand_forecast is not None:
            self._forecast_rule(name, args, args.demand_forecast, meta("-forecast"))

        self.service_name = service.metadata.apply(lambda m: m.name or name)
        self.endpoint = pulumi.Output.concat(
            "http://", self.service_name, ".", args.namespace, f".svc.cluster.local:{PORT}/v1"
        )
        self.register_outputs({"endpoint": self.endpoint, "service_name": self.service_name})

    def _forecast_rule(
        self, name: str, args: VllmModelArgs, forecast: DemandForecast, metadata: k8s.meta.v1.ObjectMetaArgs
    ) -> k8s.apiextensions.CustomResource:
        import yaml
        from llmops.components.capacity.promql import rule_group

        # vLLM labels its metrics with the served model name (the model id when unset).
        served = args.engine.served_model_name or args.engine.model
        groups = yaml.safe_load(
            rule_group(served, forecast.prefill_s_per_token, forecast.decode_s_per_token, forecast.startup_s)
        )["groups"]
        return k8s.apiextensions.CustomResource(
            f"{name}-forecast",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=metadata,
            spec={"groups": groups},
            opts=self._child_opts,
        )

    @staticmethod
    def _scaler_spec(name: str, spec: AutoscalingSpec, namespace: pulumi.Input[str]) -> dict[str, Any]:
        """The ScaledObject spec, known in a preview too: only the reactive query waits for the
        namespace (an output of the Namespace resource)."""
        rendered = scaled_object_spec(spec, name, "")
        for trigger in rendered["triggers"]:
            if trigger["name"] == "reactive":
                trigger["metadata"]["query"] = pulumi.Output.from_input(namespace).apply(
                    lambda ns: reactive_query(ns, name)
                )
        return rendered

    @staticmethod
    def _pod_spec(
        name: str,
        args: VllmModelArgs,
        select: Mapping[str, str],
        probe_config: k8s.core.v1.ConfigMap | None,
    ) -> k8s.core.v1.PodSpecArgs:
        gpus = args.engine.gpus
        store = (
            store_pod_parts(args.model_store, pinned_image(args.image, args.image_digest))
            if args.model_store is not None
            else None
        )
        engine = args.engine
        if store is not None:
            # Clients and the metrics keep the model's name; the files come from the store.
            engine = dataclasses.replace(
                engine,
                model=store.engine_model,
                served_model_name=engine.served_model_name or engine.model,
                revision=None,
            )
        env = [
            # Every cache the engine writes points into a writable volume (pod_security.py).
            *(k8s.core.v1.EnvVarArgs(name=key, value=value) for key, value in pod_security.CACHE_ENV),
            # No usage reports leave the cluster.
            k8s.core.v1.EnvVarArgs(name="VLLM_NO_USAGE_STATS", value="1"),
            k8s.core.v1.EnvVarArgs(name="DO_NOT_TRACK", value="1"),
            *(store.env if store is not None else []),
        ]
        if args.api_key_secret:
            # vLLM reads VLLM_API_KEY itself; the key never appears in the args.
            env.append(
                k8s.core.v1.EnvVarArgs(
                    name="VLLM_API_KEY",
                    value_from=k8s.core.v1.EnvVarSourceArgs(
                        secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(
                            name=args.api_key_secret, key="VLLM_API_KEY"
                        )
                    ),
                )
            )
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
        cache_volume = (
            k8s.core.v1.VolumeArgs(
                name="model-cache",
                persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(
                    claim_name=args.model_cache_claim
                ),
            )
            if args.model_cache_claim is not None
            else k8s.core.v1.VolumeArgs(name="model-cache", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs())
        )
        health = k8s.core.v1.HTTPGetActionArgs(path="/health", port="http")
        from llmops.components.capacity.failover import NOT_READY_TOLERATION_S

        tolerations: list[k8s.core.v1.TolerationArgs] = (
            [k8s.core.v1.TolerationArgs(key=GPU_RESOURCE, operator="Exists", effect="NoSchedule")]
            if args.tolerate_gpu_taint
            else []
        )
        # A node that stops reporting (its pool lost, a spot machine gone without notice) has its
        # replicas replaced after 30 s instead of the default 5 minutes: the failover replay
        # (components/capacity/failover.py) counts on it.
        tolerations += [
            k8s.core.v1.TolerationArgs(
                key=key, operator="Exists", effect="NoExecute", toleration_seconds=NOT_READY_TOLERATION_S
            )
            for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
        ]
        container = k8s.core.v1.ContainerArgs(
            name="vllm",
            image=pinned_image(args.image, args.image_digest),
            command=["vllm", "serve"],
            args=serve_args(engine, port=PORT),
            ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=PORT, protocol="TCP")],
            env=env,
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": args.cpu, "memory": args.memory, GPU_RESOURCE: str(gpus)},
                limits={"memory": args.memory, GPU_RESOURCE: str(gpus)},
            ),
            volume_mounts=[
                k8s.core.v1.VolumeMountArgs(name="dshm", mount_path="/dev/shm"),
                k8s.core.v1.VolumeMountArgs(name="model-cache", mount_path=HF_HOME),
                k8s.core.v1.VolumeMountArgs(name="home", mount_path=pod_security.HOME),
                k8s.core.v1.VolumeMountArgs(name="tmp", mount_path=pod_security.TMP),
                *(
                    k8s.core.v1.VolumeMountArgs(name=f"writable-{i}", mount_path=extra.path)
                    for i, extra in enumerate(args.writable_paths)
                ),
                *([store.mount] if store is not None else []),
                *(
                    [
                        k8s.core.v1.VolumeMountArgs(
                            name="progress-probe", mount_path=PROGRESS_PROBE_DIR, read_only=True
                        )
                    ]
                    if probe_config is not None
                    else []
                ),
            ],
            startup_probe=k8s.core.v1.ProbeArgs(
                http_get=health,
                period_seconds=STARTUP_PERIOD_S,
                timeout_seconds=PROBE_TIMEOUT_S,
                failure_threshold=max(1, math.ceil(args.startup_timeout_s / STARTUP_PERIOD_S)),
            ),
            readiness_probe=k8s.core.v1.ProbeArgs(
                http_get=health,
                period_seconds=READINESS_PERIOD_S,
                timeout_seconds=PROBE_TIMEOUT_S,
                failure_threshold=READINESS_FAILURES,
                success_threshold=1,
            ),
            liveness_probe=_progress_probe(args.stall_seconds, in_image=args.probe_in_image)
            if args.progress_probe
            else k8s.core.v1.ProbeArgs(
                http_get=health,
                period_seconds=LIVENESS_PERIOD_S,
                timeout_seconds=PROBE_TIMEOUT_S,
                failure_threshold=LIVENESS_FAILURES,
            ),
            # Give the endpoint removal a moment to reach every node before vLLM
            # stops accepting connections, so a rollout or drain drops no request.
            lifecycle=k8s.core.v1.LifecycleArgs(
                pre_stop=k8s.core.v1.LifecycleHandlerArgs(
                    exec_=k8s.core.v1.ExecActionArgs(command=["sleep", "3"])
                )
            ),
            security_context=k8s.core.v1.SecurityContextArgs(
                allow_privilege_escalation=False,
                capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
                read_only_root_filesystem=True,
                run_as_non_root=True,
                run_as_user=pod_security.RUN_AS_USER,
                run_as_group=pod_security.RUN_AS_GROUP,
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
        )
        return k8s.core.v1.PodSpecArgs(
            init_containers=[store.init_container] if store is not None else None,
            containers=[container],
            # vLLM talks to no Kubernetes API: a stolen token would be the only use of one.
            automount_service_account_token=False,
            security_context=k8s.core.v1.PodSecurityContextArgs(
                run_as_non_root=True,
                run_as_user=pod_security.RUN_AS_USER,
                run_as_group=pod_security.RUN_AS_GROUP,
                fs_group=pod_security.FS_GROUP,
                fs_group_change_policy="OnRootMismatch",
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            node_selector=dict(args.node_selector) or None,
            affinity=pool_affinity(args.node_pools, args.even_pools),
            tolerations=tolerations,
            topology_spread_constraints=spread_constraints(
                select,
                args.node_pools,
                default_spread_keys(args.node_pools) if args.spread_over is None else args.spread_over,
                args.autoscaling.max_replicas if args.autoscaling is not None else args.replicas,
                args.even_pools,
            ),
            termination_grace_period_seconds=30,
            volumes=[
                k8s.core.v1.VolumeArgs(
                    name="dshm",
                    empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(medium="Memory", size_limit=args.shm_size),
                ),
                cache_volume,
                k8s.core.v1.VolumeArgs(
                    name="home",
                    empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=pod_security.HOME_SIZE),
                ),
                k8s.core.v1.VolumeArgs(
                    name="tmp",
                    empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=pod_security.TMP_SIZE),
                ),
                *(
                    k8s.core.v1.VolumeArgs(
                        name=f"writable-{i}",
                        empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=extra.size_limit),
                    )
                    for i, extra in enumerate(args.writable_paths)
                ),
                *([store.volume] if store is not None else []),
                *(
                    [
                        k8s.core.v1.VolumeArgs(
                            name="progress-probe",
                            config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                                name=probe_config.metadata.apply(
                                    lambda m: m.name or f"{name}-progress-probe"
                                ),
                                default_mode=0o555,
                            ),
                        )
                    ]
                    if probe_config is not None
                    else []
                ),
            ],
        )


def pinned_image(image: pulumi.Input[str], digest: pulumi.Input[str] | None) -> pulumi.Input[str]:
    """`image@digest` (Outputs too: the stack's built image); the image alone without a digest."""
    if isinstance(image, str) and (digest is None or isinstance(digest, str)):
        return pod_security.pinned_image(image, digest)
    if digest is None:
        return image
    return pulumi.Output.concat(image, "@", digest)


def _progress_probe(stall_seconds: int, *, in_image: bool = False) -> k8s.core.v1.ProbeArgs:
    # The built image has the probe on PATH (images/vllm/Dockerfile); others get it from a ConfigMap.
    script = [PROBE_IN_IMAGE] if in_image else ["python3", f"{PROGRESS_PROBE_DIR}/{PROGRESS_PROBE_SCRIPT}"]
    return k8s.core.v1.ProbeArgs(
        exec_=k8s.core.v1.ExecActionArgs(command=[*script, "--stall-seconds", str(stall_seconds)]),
        period_seconds=PROGRESS_PROBE_PERIOD_S,
        timeout_seconds=PROGRESS_PROBE_TIMEOUT_S,
        failure_threshold=1,
    )
