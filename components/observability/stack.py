"""ObservabilityStack: metrics, logs, traces, dashboards and alert rules for LLM serving."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from llmops.components.kube_names import DNS1123_LABEL, QUANTITY
from llmops.components.observability import charts
from llmops.components.observability.dashboards import SIDECAR_LABEL, SIDECAR_LABEL_VALUE, load_dashboards
from llmops.components.observability.manifests import is_duration, validate_gpu_prices
from llmops.components.observability.monitors import llmops_prometheus_rule

# kube-prometheus-stack truncates its fullname to 26 characters; "<name>-kps" must fit so
# the service names this component reports are the ones the chart creates.
_MAX_INSTANCE_NAME = 26 - len("-kps")


class ObservabilityStackArgsError(ValueError):
    """Every problem with an ObservabilityStackArgs, reported together."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid ObservabilityStack arguments:\n  - " + "\n  - ".join(problems))


@dataclass
class ObservabilityStackArgs:
    """Settings of one ObservabilityStack; every field has a working default."""

    namespace: str = "monitoring"
    """Namespace of every release, rule and dashboard; default: `monitoring`."""

    create_namespace: bool = True
    """Default: the component creates the namespace (privileged, for the node agents); False: it exists."""

    enable_loki: bool = True
    """Default: Loki runs as one process (single-binary) and is Grafana's log datasource."""

    enable_fluent_bit: bool = True
    """Default: fluent-bit runs on every node, GPU nodes included, and ships container logs to Loki."""

    enable_deepflow: bool = False
    """Default: off; True installs DeepFlow server and eBPF agents (kernel and privileges: see docs)."""

    grafana_admin_password: pulumi.Input[str] | None = None
    """Default: a 24-character password from pulumi_random, kept as a secret and exported as an output."""

    scrape_interval: str = "15s"
    """Default: cluster components scraped every 15 s; vLLM replicas use their own 2 s ServiceMonitors."""

    evaluation_interval: str = "15s"
    """Default: rules evaluated every 15 s; the vLLM fast-alert group carries its own 1 s interval."""

    metrics_retention: str = "15d"
    """Default: Prometheus keeps 15 days of metrics."""

    prometheus_storage_size: str | None = None
    """Default: no volume (metrics live in the pod and are lost when it moves); e.g. "50Gi" adds a PVC."""

    log_retention_hours: int = 168
    """Default: Loki keeps 7 days of logs (a multiple of 24 h, Loki's index period)."""

    loki_storage_size: str = "20Gi"
    """Default: a 20 GiB volume for Loki's chunks and index."""

    gpu_price_per_hour: Mapping[str, float] = field(default_factory=dict)
    """Default: no prices, so the cost dashboard shows GPU-hours but no USD; node pool -> USD per GPU-hour."""

    def validate(self, instance_name: str) -> list[str]:
        """Every problem, each naming the argument, the value given and the fix."""
        problems: list[str] = []
        if not DNS1123_LABEL.match(instance_name) or len(instance_name) > _MAX_INSTANCE_NAME:
            problems.append(
                f"name: {instance_name!r} must be lowercase letters, digits and '-', at most "
                f"{_MAX_INSTANCE_NAME} characters (Helm release and service names derive from it); "
                "use a short name like 'obs'"
            )
        if not DNS1123_LABEL.match(self.namespace) or len(self.namespace) > 63:
            problems.append(
                f"namespace: {self.namespace!r} is not a Kubernetes namespace name "
                "(lowercase letters, digits, '-', at most 63); use e.g. 'monitoring'"
            )
        for key in ("scrape_interval", "evaluation_interval", "metrics_retention"):
            value = getattr(self, key)
            if not isinstance(value, str) or not is_duration(value) or value == "0":
                problems.append(f"{key}: {value!r} is not a Prometheus duration; use e.g. '15s' or '15d'")
        if isinstance(self.log_retention_hours, bool) or not isinstance(self.log_retention_hours, int):
            problems.append(
                f"log_retention_hours: {self.log_retention_hours!r} is not a whole number of hours"
            )
        elif self.log_retention_hours < 24 or self.log_retention_hours % 24:
            problems.append(
                f"log_retention_hours: {self.log_retention_hours} must be a positive multiple of 24 "
                "(Loki's index period); use e.g. 168 for 7 days"
            )
        for key in ("loki_storage_size", "prometheus_storage_size"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, str) or not QUANTITY.match(value)):
                problems.append(f"{key}: {value!r} is not a Kubernetes quantity; use e.g. '20Gi'")
        if isinstance(self.grafana_admin_password, str) and len(self.grafana_admin_password) < 12:
            problems.append(
                "grafana_admin_password: shorter than 12 characters; pass a longer secret or leave it "
                "unset to generate one"
            )
        if self.enable_fluent_bit and not self.enable_loki:
            problems.append(
                "enable_fluent_bit: True needs enable_loki: True (fluent-bit ships to this stack's Loki); "
                "enable Loki or disable fluent-bit"
            )
        problems.extend(validate_gpu_prices(self.gpu_price_per_hour, "gpu_price_per_hour"))
        return problems


class ObservabilityStack(pulumi.ComponentResource):
    """kube-prometheus-stack, Loki, fluent-bit and (optionally) DeepFlow, plus LLM dashboards and alerts."""

    namespace: pulumi.Output[str]
    """Namespace everything was installed into."""
    grafana_admin_password: pulumi.Output[str]
    """Grafana's admin password (secret); the user is `admin`."""
    grafana_service: pulumi.Output[str]
    """Grafana's Service (port 80): `kubectl -n <namespace> port-forward svc/<this> 3000:80`."""
    prometheus_url: pulumi.Output[str]
    """In-cluster Prometheus URL, e.g. for KEDA's Prometheus scaler."""
    loki_url: pulumi.Output[str | None]
    """In-cluster Loki push/query URL, or None when Loki is off."""
    kube_prometheus_stack: k8s.helm.v3.Release
    """The kube-prometheus-stack release (escape hatch: depend on it before creating monitoring CRs)."""

    def __init__(
        self,
        name: str,
        args: ObservabilityStackArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or ObservabilityStackArgs()
        problems = args.validate(name)
        if problems:
            raise ObservabilityStackArgsError(problems)
        dashboards = load_dashboards()  # a broken dashboard file fails before anything is created
        super().__init__("llmops:observability:ObservabilityStack", name, None, opts)

        names = charts.ReleaseNames.for_instance(name)
        ns = args.namespace
        child = pulumi.ResourceOptions(parent=self)
        after_ns: list[pulumi.Resource] = []
        if args.create_namespace:
            namespace = k8s.core.v1.Namespace(
                f"{name}-namespace",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=ns,
                    # node-exporter, fluent-bit and DeepFlow's agent mount host paths and use the
                    # host network; Pod Security Admission must allow that in this namespace.
                    labels={"pod-security.kubernetes.io/enforce": "privileged"},
                ),
                opts=child,
            )
            after_ns.append(namespace)
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=after_ns)

        if args.grafana_admin_password is None:
            password: pulumi.Input[str] = random.RandomPassword(
                f"{name}-grafana-password", length=24, special=False, opts=child
            ).result
        else:
            password = pulumi.Output.secret(args.grafana_admin_password)
        admin_secret = k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=names.grafana_admin_secret, namespace=ns),
            string_data={"admin-user": "admin", "admin-password": password},
            opts=in_ns,
        )

        self.kube_prometheus_stack = self._release(
            f"{name}-kube-prometheus-stack",
            charts.KUBE_PROMETHEUS_STACK,
            names.kube_prometheus_stack,
            ns,
            charts.kube_prometheus_stack_values(
                names,
                ns,
                scrape_interval=args.scrape_interval,
                evaluation_interval=args.evaluation_interval,
                retention=args.metrics_retention,
                storage_size=args.prometheus_storage_size,
                loki_enabled=args.enable_loki,
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[*after_ns, admin_secret]),
        )
        releases: dict[str, k8s.helm.v3.Release] = {"kube-prometheus-stack": self.kube_prometheus_stack}
        if args.enable_loki:
            releases["loki"] = self._release(
                f"{name}-loki",
                charts.LOKI,
                names.loki,
                ns,
                charts.loki_values(names, args.log_retention_hours, args.loki_storage_size),
                in_ns,
            )
        if args.enable_fluent_bit:
            releases["fluent-bit"] = self._release(
                f"{name}-fluent-bit",
                charts.FLUENT_BIT,
                names.fluent_bit,
                ns,
                charts.fluent_bit_values(names, ns),
                in_ns,
            )
        if args.enable_deepflow:
            releases["deepflow"] = self._release(
                f"{name}-deepflow", charts.DEEPFLOW, names.deepflow, ns, charts.deepflow_values(names), in_ns
            )
        self.releases = releases

        # The PrometheusRule CRD comes with kube-prometheus-stack: create the rules after it.
        self.alert_rules = llmops_prometheus_rule(
            f"{name}-alert-rules",
            ns,
            args.gpu_price_per_hour,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.kube_prometheus_stack]),
        )
        self.dashboards = [
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard-{file_name.removesuffix('.json')}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=f"{name}-dashboard-{file_name.removesuffix('.json')}",
                    namespace=ns,
                    labels={SIDECAR_LABEL: SIDECAR_LABEL_VALUE, "app.kubernetes.io/managed-by": "llmops"},
                ),
                data={file_name: json.dumps(dashboard, indent=1)},
                opts=in_ns,
            )
            for file_name, dashboard in dashboards.items()
        ]

        self.namespace = pulumi.Output.from_input(ns)
        self.grafana_admin_password = pulumi.Output.secret(password)
        self.grafana_service = pulumi.Output.from_input(names.grafana_service)
        self.prometheus_url = pulumi.Output.from_input(
            f"http://{names.prometheus_service}.{ns}.svc:{charts.PROMETHEUS_PORT}"
        )
        self.loki_url = pulumi.Output.from_input(
            f"http://{names.loki}.{ns}.svc:{charts.LOKI_HTTP_PORT}" if args.enable_loki else None
        )
        self.register_outputs(
            {
                "namespace": self.namespace,
                "grafana_admin_password": self.grafana_admin_password,
                "grafana_service": self.grafana_service,
                "prometheus_url": self.prometheus_url,
                "loki_url": self.loki_url,
            }
        )

    def _release(
        self,
        resource_name: str,
        chart: charts.Chart,
        release_name: str,
        namespace: str,
        values: dict[str, Any],
        opts: pulumi.ResourceOptions,
    ) -> k8s.helm.v3.Release:
        return k8s.helm.v3.Release(
            resource_name,
            k8s.helm.v3.ReleaseArgs(
                name=release_name,
                **chart.release_source(),
                namespace=namespace,
                create_namespace=False,
                values=values,
                # Large charts (CRDs, many pods) take minutes on fresh GPU nodes.
                timeout=900,
            ),
            opts=opts,
        )
