"""Pulumi resources for prometheus-operator objects: the per-model ServiceMonitor and the alert rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from llmops.components.observability.manifests import (
    alert_rule_groups,
    prometheus_rule_manifest,
    vllm_service_monitor_manifest,
)


def _custom_resource(
    resource_name: str, manifest: dict[str, Any], opts: pulumi.ResourceOptions | None
) -> k8s.apiextensions.CustomResource:
    meta = manifest["metadata"]
    return k8s.apiextensions.CustomResource(
        resource_name,
        api_version=manifest["apiVersion"],
        kind=manifest["kind"],
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=meta["name"], namespace=meta["namespace"], labels=meta.get("labels") or None
        ),
        spec=manifest["spec"],
        opts=opts,
    )


def vllm_service_monitor(
    name: str,
    namespace: pulumi.Input[str],
    selector_labels: Mapping[str, str],
    port: str = "http",
    interval: str = "2s",
    scrape_timeout: str | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> k8s.apiextensions.CustomResource:
    """ServiceMonitor for one VllmModel's Service; Kubernetes object and Pulumi name are both `name`.

    Call it from VllmModel as `vllm_service_monitor(f"{name}-metrics", namespace,
    {"llmops.io/model": name}, opts=ResourceOptions(parent=self))`. Every target gets
    job="vllm", llmops_model (from the pod label llmops.io/model) and node labels, which the
    alert rules and dashboards rely on. See manifests.vllm_service_monitor_manifest for why 2 s.
    """
    # The namespace may be another resource's output: build the manifest, then set it.
    manifest = vllm_service_monitor_manifest(
        name, "placeholder", selector_labels, port, interval, scrape_timeout
    )
    manifest["metadata"]["namespace"] = namespace
    return _custom_resource(name, manifest, opts)


def llmops_prometheus_rule(
    name: str,
    namespace: str,
    gpu_price_per_hour: Mapping[str, float] | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> k8s.apiextensions.CustomResource:
    """The PrometheusRule with every llmops alert and recording rule (rules/*.rules.yaml + prices)."""
    manifest = prometheus_rule_manifest(
        name,
        namespace,
        alert_rule_groups(gpu_price_per_hour),
        labels={"app.kubernetes.io/managed-by": "llmops", "app.kubernetes.io/component": "alert-rules"},
    )
    return _custom_resource(name, manifest, opts)
