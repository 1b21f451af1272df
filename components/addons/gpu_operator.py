"""`GpuOperator`: NVIDIA's GPU operator, so GPU nodes advertise `nvidia.com/gpu` to the scheduler.

The operator runs the container toolkit, the device plugin, GPU feature discovery and the
DCGM exporter on every GPU node (and the driver where the node image has none). Without
it a pod that requests `nvidia.com/gpu` stays Pending: no node has that resource.

`gpu_operator_values()` and `dcgm_service_monitor()` are pure (tested without Pulumi);
the component only creates the namespace, the release and the ServiceMonitor.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml
from llmops.components.addons.charts import GPU_OPERATOR, deep_merge, load_values
from llmops.components.k3s.render import GPU_TAINT, NodeTaint
from llmops.components.kube_names import DNS1123_LABEL
from llmops.components.observability.manifests import is_duration

CHART = GPU_OPERATOR

# K3s keeps its own containerd: config generated under the agent's data dir, socket under /run/k3s
# (K3s docs, "Advanced options: Configuring containerd").
K3S_CONTAINERD_CONFIG = "/var/lib/rancher/k3s/agent/etc/containerd/config.toml"
K3S_CONTAINERD_SOCKET = "/run/k3s/containerd/containerd.sock"

# What the operator names the exporter's Service and the port on it
# (gpu-operator assets/state-dcgm-exporter/0400_service.yaml, v26.7.0).
DCGM_EXPORTER_APP = "nvidia-dcgm-exporter"
DCGM_EXPORTER_PORT = "gpu-metrics"

# The operator and NFD's master/gc stay on the servers; the control-plane toleration is the
# chart's own (kubeadm-style `node-role.kubernetes.io/control-plane:NoSchedule`).
_CONTROL_PLANE_TOLERATION = {
    "key": "node-role.kubernetes.io/control-plane",
    "operator": "Equal",
    "value": "",
    "effect": "NoSchedule",
}

_MAX_INSTANCE_NAME = 40


class ContainerRuntimeMode(enum.Enum):
    """How the toolkit hooks GPUs into the node's container runtime."""

    NRI = "nri"
    """The toolkit's NRI plugin injects CDI devices; the runtime config is never edited or restarted
    (needs NRI in containerd, on by default from containerd 2.0; K3s 1.33.5 ships containerd 2.1.4)."""
    K3S_CONTAINERD = "k3s-containerd"
    """The toolkit edits K3s's containerd config at K3s's own paths and restarts it (containerd < 2.0)."""
    CONTAINERD = "containerd"
    """The chart's defaults, `/etc/containerd/config.toml`: kubeadm, EKS, GKE, AKS nodes."""


class MigStrategy(enum.Enum):
    """How MIG slices are advertised (NVIDIA's device plugin `migStrategy`)."""

    NONE = "none"
    """No MIG: whole GPUs only, and no MIG manager pods."""
    SINGLE = "single"
    """Every GPU of a node cut the same way; slices advertised as `nvidia.com/gpu`."""
    MIXED = "mixed"
    """Slices advertised per profile, e.g. `nvidia.com/mig-1g.10gb`."""


@dataclass(frozen=True, kw_only=True)
class TimeSlicing:
    """Share each GPU between several pods by time-slicing (no memory isolation between them)."""

    replicas: int
    """How many `nvidia.com/gpu` each physical GPU is advertised as (2 or more)."""
    rename_shared: bool = False
    """Default: the shared GPUs keep the name `nvidia.com/gpu`; True advertises `nvidia.com/gpu.shared`."""


class GpuOperatorArgsError(ValueError):
    """Every problem with a GpuOperatorArgs, reported together."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid GpuOperator arguments:\n  - " + "\n  - ".join(problems))


@dataclass(kw_only=True)
class GpuOperatorArgs:
    """Settings of one GpuOperator; every field has a working default for K3s GPU agents."""

    namespace: str = "gpu-operator"
    """Namespace of the release and every operand; default: `gpu-operator`."""
    create_namespace: bool = True
    """Default: the component creates the namespace (Pod Security `privileged`); False: it exists."""
    install_driver: bool = True
    """Default: the operator builds and loads the NVIDIA driver on every GPU node (the chart's default).
    Set False when the node image ships the driver (the AWS Deep Learning AMI the AWS pools boot)."""
    runtime_mode: ContainerRuntimeMode = ContainerRuntimeMode.NRI
    """Default: NRI plugin mode, no containerd config edits (right for K3s with containerd 2.x)."""
    gpu_taints: Sequence[NodeTaint] = (GPU_TAINT,)
    """Taints of the GPU nodes; the per-node operands and NFD's worker tolerate them, the operator and
    NFD's master do not (they stay on the servers). Default: the GPU taint every pool carries."""
    service_monitor: bool = False
    """Default: no ServiceMonitor; True creates one for the DCGM exporter (needs the Prometheus
    Operator CRDs, see `monitoring_crds`)."""
    monitoring_crds: Sequence[pulumi.Resource] = ()
    """Resources that install the ServiceMonitor CRD (the kube-prometheus-stack release); the
    ServiceMonitor is created after them. Default: none (the CRD already exists)."""
    scrape_interval: str = "15s"
    """How often Prometheus scrapes the DCGM exporter; default: 15 s (DCGM samples every 30 s by default)."""
    time_slicing: TimeSlicing | None = None
    """Default: off, one pod per GPU. Set it to share each GPU between several small models."""
    mig_strategy: MigStrategy = MigStrategy.NONE
    """Default: no MIG and no MIG manager; SINGLE or MIXED run the MIG manager (A100/H100 class GPUs)."""
    chart_version: str = field(default=CHART.version)
    """Chart release; default: the pinned one."""

    def validate(self, instance_name: str) -> list[str]:
        problems: list[str] = []
        if not DNS1123_LABEL.match(instance_name) or len(instance_name) > _MAX_INSTANCE_NAME:
            problems.append(
                f"name: {instance_name!r} must be lowercase letters, digits and '-', at most "
                f"{_MAX_INSTANCE_NAME} characters (the Helm release name derives from it); use e.g. 'gpu'"
            )
        if not DNS1123_LABEL.match(self.namespace) or len(self.namespace) > 63:
            problems.append(
                f"namespace: {self.namespace!r} is not a Kubernetes namespace name; use e.g. 'gpu-operator'"
            )
        if not is_duration(self.scrape_interval) or self.scrape_interval == "0":
            problems.append(
                f"scrape_interval: {self.scrape_interval!r} is not a Prometheus duration; use e.g. '15s'"
            )
        if self.time_slicing is not None and self.time_slicing.replicas < 2:
            problems.append(
                f"time_slicing.replicas: {self.time_slicing.replicas} shares nothing; use 2 or more, "
                "or leave time_slicing unset"
            )
        if self.time_slicing is not None and self.mig_strategy is not MigStrategy.NONE:
            problems.append(
                f"time_slicing: set together with mig_strategy {self.mig_strategy.value!r}; "
                "use one way of sharing GPUs"
            )
        return problems


def release_name(instance_name: str) -> str:
    return f"{instance_name}-gpu-operator"


def _tolerations(taints: Sequence[NodeTaint]) -> list[dict[str, str]]:
    return [{"key": taint.key, "operator": "Exists", "effect": taint.effect} for taint in taints]


def time_slicing_config(sharing: TimeSlicing) -> str:
    """The device plugin's config file (NVIDIA k8s-device-plugin `version: v1`) for time-slicing."""
    config = {
        "version": "v1",
        "flags": {"migStrategy": "none"},
        "sharing": {
            "timeSlicing": {
                "renameByDefault": sharing.rename_shared,
                "resources": [{"name": "nvidia.com/gpu", "replicas": sharing.replicas}],
            }
        },
    }
    return yaml.safe_dump(config, sort_keys=False)


def gpu_operator_values(args: GpuOperatorArgs, instance_name: str) -> dict[str, Any]:
    """Chart values: the file beside this module plus what the args decide. Pure."""
    gpu_tolerations = _tolerations(args.gpu_taints)
    computed: dict[str, Any] = {
        "driver": {"enabled": args.install_driver},
        "cdi": {"nriPluginEnabled": args.runtime_mode is ContainerRuntimeMode.NRI},
        # Every per-node operand (toolkit, device plugin, GFD, DCGM exporter, validator) runs on the
        # GPU nodes, so the ClusterPolicy's DaemonSets tolerate the GPU taints.
        "daemonsets": {"tolerations": gpu_tolerations},
        "operator": {"tolerations": [_CONTROL_PLANE_TOLERATION]},
        "mig": {"strategy": args.mig_strategy.value},
        "migManager": {"enabled": args.mig_strategy is not MigStrategy.NONE},
        "node-feature-discovery": {
            # The worker labels each node, GPU nodes included; master and gc keep the chart's
            # placement (no GPU toleration), so they never hold a GPU node awake.
            "worker": {"tolerations": [_CONTROL_PLANE_TOLERATION, *gpu_tolerations]},
        },
    }
    if args.runtime_mode is ContainerRuntimeMode.K3S_CONTAINERD:
        computed["toolkit"] = {
            "env": [
                {"name": "CONTAINERD_CONFIG", "value": K3S_CONTAINERD_CONFIG},
                {"name": "CONTAINERD_SOCKET", "value": K3S_CONTAINERD_SOCKET},
            ]
        }
    if args.time_slicing is not None:
        computed["devicePlugin"] = {
            "config": {
                "create": True,
                "name": f"{release_name(instance_name)}-time-slicing",
                "default": "any",
                "data": {"any": time_slicing_config(args.time_slicing)},
            }
        }
    return deep_merge(load_values(CHART), computed)


def dcgm_service_monitor(instance_name: str, namespace: str, scrape_interval: str) -> dict[str, Any]:
    """A ServiceMonitor for the operator's DCGM exporter Service. Pure.

    kube-prometheus-stack (as the observability stack configures it) selects ServiceMonitors in every
    namespace whatever their labels, so no release label is needed. `Hostname` on every series is
    the node name (the operator sets NODE_NAME on the exporter), which the GPU rules join on.
    """
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {
            "name": f"{instance_name}-dcgm-exporter",
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "llmops", "app.kubernetes.io/name": DCGM_EXPORTER_APP},
        },
        "spec": {
            "jobLabel": "app",
            "namespaceSelector": {"matchNames": [namespace]},
            "selector": {"matchLabels": {"app": DCGM_EXPORTER_APP}},
            "endpoints": [{"port": DCGM_EXPORTER_PORT, "path": "/metrics", "interval": scrape_interval}],
        },
    }


class GpuOperator(pulumi.ComponentResource):
    """NVIDIA GPU operator release (ClusterPolicy from its values) and the DCGM exporter's ServiceMonitor."""

    release: k8s.helm.v3.Release
    """The operator release; depend on it before creating pods that request `nvidia.com/gpu`."""
    namespace: pulumi.Output[str]
    """Namespace of the operator and its operands."""
    service_monitor: k8s.apiextensions.CustomResource | None
    """The DCGM exporter's ServiceMonitor, or None when `service_monitor` is off."""

    def __init__(
        self, name: str, args: GpuOperatorArgs | None = None, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        args = args or GpuOperatorArgs()
        problems = args.validate(name)
        if problems:
            raise GpuOperatorArgsError(problems)
        super().__init__("llmops:addons:GpuOperator", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        after_ns: list[pulumi.Resource] = []
        if args.create_namespace:
            after_ns.append(
                k8s.core.v1.Namespace(
                    f"{name}-namespace",
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        name=args.namespace,
                        # The operands load kernel modules, mount host paths and run privileged.
                        labels={
                            "pod-security.kubernetes.io/enforce": "privileged",
                            "app.kubernetes.io/managed-by": "llmops",
                        },
                    ),
                    opts=child,
                )
            )
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            k8s.helm.v3.ReleaseArgs(
                name=release_name(name),
                **{**CHART.release_source(), "version": args.chart_version},
                namespace=args.namespace,
                create_namespace=False,
                values=gpu_operator_values(args, name),
                # Driver builds and toolkit restarts take minutes on a fresh GPU node.
                timeout=900,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=after_ns),
        )
        self.service_monitor = None
        if args.service_monitor:
            monitor = dcgm_service_monitor(name, args.namespace, args.scrape_interval)
            self.service_monitor = k8s.apiextensions.CustomResource(
                f"{name}-dcgm-service-monitor",
                api_version=monitor["apiVersion"],
                kind=monitor["kind"],
                metadata=k8s.meta.v1.ObjectMetaArgs(**monitor["metadata"]),
                spec=monitor["spec"],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.release, *args.monitoring_crds]),
            )
        self.namespace = pulumi.Output.from_input(args.namespace)
        self.register_outputs({"namespace": self.namespace, "releaseName": self.release.name})
